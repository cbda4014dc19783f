"""Agents: who they are, their state (signed in or away, and which worker set it), and where
their phones are REGISTERed.

Every worker must be able to offer an agent calls and ring their phone, whichever worker the
agent signed in on or the phone registered with: so these rows are shared, written through the
writer (an outage delays them, never loses them) and, on PostgreSQL, NOTIFYed on
``ivr_agents``; a worker hearing one re-reads and tells its subscribers (``publish_*``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import Connection, Engine, insert, select, update

from . import schema as t
from .clean import clean_json, redact_text
from .notify import AGENTS_CHANNEL, Subscribers, pg_notify
from .values import aware as _aware
from .values import cut as _s
from .values import stmt_op, utcnow
from .writer import Writer

PresenceCallback = Callable[[dict[str, tuple[str, str | None]]], Any]  # agent id → (state, worker that set it)


class Agents:
    """The agents repository. ``worker()`` names this worker (or None before it registers)."""

    def __init__(self, engine: Engine, writer: Writer, worker: Callable[[], str | None]):
        self.engine = engine
        self._writer = writer
        self._worker = worker
        self._postgres = engine.dialect.name == "postgresql"
        self._presence_subs = Subscribers()
        self._binding_subs = Subscribers()

    # ------------------------------------------------------------------ agents (presence)

    def upsert_agent(self, agent_id: str, name: str, sip_uri: str, skills: list[str] | None = None,
                     state: str = "offline", at: datetime | None = None) -> None:
        when = _aware(at)
        row = {"name": _s(redact_text(name), 255), "sip_uri": _s(sip_uri, 255), "skills": clean_json(list(skills or [])),
               "state": _s(state, 32), "state_since": when}

        def op(conn: Connection) -> None:
            n = conn.execute(update(t.agents).where(t.agents.c.id == agent_id).values(**row)).rowcount
            if not n:
                conn.execute(insert(t.agents).values(id=agent_id, **row))

        self._writer.submit(op, f"agent {agent_id}")

    def set_agent_state(self, agent_id: str, state: str, at: datetime | None = None) -> None:
        when = _aware(at)
        self._writer.submit(stmt_op(update(t.agents).where(t.agents.c.id == agent_id)
                                    .values(state=_s(state, 32), state_since=when)),
                            f"agent {agent_id} {state}")

    def list_agents(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t.agents).order_by(t.agents.c.id))]

    # ------------------------------------------------------------------ agents signed in or away (PostgreSQL)

    def set_agent_presence(self, agent_id: str, state: str, *, name: str | None = None) -> None:
        """An agent signed in (``available``) or stepped away (``away``) on this worker: stored in
        ``agents`` with this worker's id and NOTIFYed, so every worker offers them calls or not.
        Through the writer: an outage delays it."""
        if state not in ("available", "away"):
            raise ValueError(f"state: 'available' or 'away' (got {state!r})")
        me = self._worker()

        def op(conn: Connection) -> None:
            values = {"state": state, "state_since": utcnow(), "updated_by": me}
            if not conn.execute(update(t.agents).where(t.agents.c.id == agent_id).values(**values)).rowcount:
                conn.execute(insert(t.agents).values(id=agent_id, name=_s(redact_text(name or agent_id), 255),
                                                     sip_uri="", skills=[], **values))
            if self._postgres:
                pg_notify(conn, AGENTS_CHANNEL, {"agent": agent_id, "presence": state, "worker": me})

        self._writer.submit(op, f"agent {agent_id} {state}")

    def agent_presence(self) -> dict[str, tuple[str, str | None]]:
        """Agent id → (stored state, the worker that set it)."""
        with self.engine.connect() as conn:
            return {a: (s, w) for a, s, w in conn.execute(select(t.agents.c.id, t.agents.c.state, t.agents.c.updated_by))}

    def on_agent_presence(self, callback: PresenceCallback, *, loop: asyncio.AbstractEventLoop | None = None
                          ) -> Callable[[], None]:
        """``callback({agent: (state, worker)})`` whenever any worker stores a signed-in state
        (and after the listener reconnects)."""
        return self._presence_subs.subscribe(callback, loop)

    def publish_presence(self) -> None:
        self._presence_subs.publish(self.agent_presence)

    # ------------------------------------------------------------------ agents' REGISTER bindings (PostgreSQL)

    def save_binding(self, agent_id: str, contact: str, expires_s: float) -> None:
        """The agent's phone REGISTERed here: every worker may ring it at ``contact`` until it
        expires (``expires_s`` <= 0 removes it). Through the writer, then NOTIFYed."""
        me = self._worker()

        def op(conn: Connection) -> None:
            conn.execute(t.agent_bindings.delete().where(t.agent_bindings.c.agent_id == agent_id))
            if expires_s > 0 and contact != "*":
                conn.execute(insert(t.agent_bindings).values(
                    agent_id=agent_id, contact=_s(contact, 255), worker=me,
                    expires_at=utcnow() + timedelta(seconds=float(expires_s))))
            if self._postgres:
                pg_notify(conn, AGENTS_CHANNEL, {"agent": agent_id, "binding": True, "worker": me})

        self._writer.submit(op, f"agent {agent_id} binding")

    def agent_bindings(self) -> dict[str, dict[str, Any]]:
        """Agent id → {contact, expires_at, worker} for every live binding."""
        now = utcnow()
        with self.engine.connect() as conn:
            return {r.agent_id: {"contact": r.contact, "expires_at": r.expires_at, "worker": r.worker}
                    for r in conn.execute(select(t.agent_bindings).where(t.agent_bindings.c.expires_at > now))}

    def on_agent_bindings(self, callback: Callable[[dict], Any], *, loop: asyncio.AbstractEventLoop | None = None
                          ) -> Callable[[], None]:
        """``callback(agent_bindings())`` whenever any worker stores or removes a binding."""
        return self._binding_subs.subscribe(callback, loop)

    def publish_bindings(self) -> None:
        self._binding_subs.publish(self.agent_bindings)
