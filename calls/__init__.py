"""Types every layer may share (imports nothing else of the project): what a call is waiting for."""
