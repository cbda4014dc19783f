"""routing: the escalation policy, agents and queues, warm transfer, the store, the web app."""
