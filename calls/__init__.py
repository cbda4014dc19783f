"""Types every layer may share (imports nothing else of the project): what a call is waiting for
(`expectation`), what happens on it (`events`: one typed model per call event) and how it ended
(`outcome`)."""
