"""Signed in or away, and where their phone registered, the same on every worker.

Each worker keeps its own `AgentDirectory`; an agent's desktop talks to one of them. What an
agent decides on any worker (step away, come back) and a ring-no-answer (which puts them away)
is stored with the worker's id and NOTIFYed (`Store.set_agent_presence`), and every other worker
applies it to its directory: an away agent is offered calls by no worker, and one who comes back
wakes the calls waiting on every worker. Which call rings them is the claims' business
(`AgentDirectory.claims`), not this module's. Only the sign-in states travel: ringing, on call and
wrap-up belong to the worker whose call it is.

REGISTER bindings travel the same way: the worker that took an agent's REGISTER (Kamailio hashes
REGISTERs by their address of record, so one agent's digest exchange stays with one worker) stores the binding, and
every worker INVITEs the agent at that contact until it expires.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Mapping

from .agents import AgentDirectory, InvalidTransition, Presence

log = logging.getLogger("routing.presence")


def remote_step(local: Presence, stored: str) -> Presence | None:
    """Pure: what a stored sign-in state from another worker does to an agent here (None: nothing).
    A call in progress here (ringing, on call) is left alone."""
    if stored == "away" and local in (Presence.AVAILABLE, Presence.WRAP_UP):
        return Presence.AWAY
    if stored == "available" and local is Presence.AWAY:
        return Presence.AVAILABLE
    return None


class SharedPresence:
    def __init__(self, directory: AgentDirectory, store: Any, worker_id: str) -> None:
        self.directory = directory
        self.store = store
        self.worker_id = worker_id
        self._applying = False
        self.unsubscribe = directory.subscribe(self._on_local)

    def _on_local(self, agent, old: Presence, new: Presence, status) -> None:
        if self._applying:
            return  # a change that came from another worker: not ours to publish
        if new is Presence.AWAY and old is not Presence.AWAY:
            self.store.set_agent_presence(agent.id, "away", name=agent.name)
        elif new is Presence.AVAILABLE and old is Presence.AWAY:
            self.store.set_agent_presence(agent.id, "available", name=agent.name)

    def on_register(self, registration: Any) -> int | None:
        """The registrar's callback: bind here, and store the binding for the other workers."""
        granted = self.directory.on_register(registration)
        expires = granted if granted is not None else registration.expires
        if registration.user in self.directory:
            self.store.save_binding(registration.user, registration.contact, expires)
        return granted

    def sync_bindings(self, stored: Mapping[str, Mapping[str, Any]], now: datetime | None = None) -> None:
        """Apply the bindings other workers took (run in the event loop)."""
        now = now or datetime.now(timezone.utc)
        for agent in self.directory:
            b = stored.get(agent.id)
            st = self.directory.status(agent.id)
            if b is None:
                if st.contact is not None and st.contact_from not in (None, self.worker_id):
                    self.directory.register(agent.id, "*", 0)  # removed (or expired) elsewhere
                    st.contact_from = None
                continue
            if b.get("worker") == self.worker_id:
                continue
            left = (b["expires_at"] - now).total_seconds()
            self.directory.register(agent.id, b["contact"], left)
            st.contact_from = b.get("worker")

    def sync(self, stored: Mapping[str, tuple[str, str | None]]) -> None:
        """Apply every agent's stored state that another worker wrote (run in the event loop)."""
        for agent in self.directory:
            state, by = stored.get(agent.id, (None, None))
            if state is None or by == self.worker_id:
                continue
            step = remote_step(self.directory.presence(agent.id), state)
            if step is None:
                continue
            self._applying = True
            try:
                self.directory.set_presence(agent.id, step)
                log.info("agent %s is %s (set on worker %s)", agent.id, step.value, by)
            except InvalidTransition:
                pass
            finally:
                self._applying = False
