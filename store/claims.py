"""Agent claims: at most one row per agent (its primary key), held from ringing to the end of
wrap-up by the worker whose call it is, so two workers can never ring one agent at once.

A claim is taken and released at once, not through the writer: the caller must know whether it
got the agent before ringing them. Every change is NOTIFYed on ``ivr_agents`` (PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from . import schema as t
from .db import write_conn
from .notify import AGENTS_CHANNEL, Subscribers, pg_notify
from .values import cut as _s
from .values import utcnow
from .writer import Writer

log = logging.getLogger("store")

ClaimCallback = Callable[[dict[str, str]], Any]  # agent id → worker holding it, for every claim


class Claims:
    """The claims repository. ``worker()`` names this worker (claims are made in its name)."""

    def __init__(self, engine: Engine, writer: Writer, worker: Callable[[], str | None]):
        self.engine = engine
        self._writer = writer
        self._worker = worker
        self._postgres = engine.dialect.name == "postgresql"
        self._subs = Subscribers()

    def claim_agent(self, agent_id: str, call_ref: str) -> bool:
        """Take agent ``agent_id`` for ``call_ref`` unless another call holds them: one INSERT that
        the primary key makes atomic across every worker. False when held (or the database is
        away: never ring someone who may be ringing for another worker)."""
        try:
            with write_conn(self.engine) as conn:
                ok = conn.execute(text(
                    "INSERT INTO agent_claims (agent_id, call_ref, worker, claimed_at) "
                    "VALUES (:a, :c, :w, :at) ON CONFLICT (agent_id) DO NOTHING"),
                    {"a": agent_id, "c": _s(call_ref, 64), "w": self._worker() or "?", "at": utcnow()}).rowcount == 1
                if ok:
                    self._notify(conn, agent_id, True)
                return ok
        except (OperationalError, DBAPIError) as exc:
            log.warning("store: could not claim agent %s (%s); not ringing them", agent_id, type(exc).__name__)
            return False

    def release_agent(self, agent_id: str, call_ref: str | None = None) -> None:
        """Give the agent back (wrap-up over, no answer...); only our own claim, and only for
        ``call_ref`` when given. At once (so this worker can claim them again right away); while
        the database is away, through the writer, so the release is delayed, not lost."""
        def op(conn: Connection) -> None:
            q = t.agent_claims.delete().where(t.agent_claims.c.agent_id == agent_id,
                                               t.agent_claims.c.worker == (self._worker() or "?"))
            if call_ref is not None:
                q = q.where(t.agent_claims.c.call_ref == call_ref)
            if conn.execute(q).rowcount:
                self._notify(conn, agent_id, False)

        try:
            with write_conn(self.engine) as conn:
                op(conn)
        except (OperationalError, DBAPIError):
            self._writer.submit(op, f"agent {agent_id} release")

    def agent_claims(self) -> dict[str, str]:
        """Agent id → the worker holding them."""
        with self.engine.connect() as conn:
            return {a: w for a, w in conn.execute(select(t.agent_claims.c.agent_id, t.agent_claims.c.worker))}

    def on_agent_claims(self, callback: ClaimCallback, *, loop: asyncio.AbstractEventLoop | None = None
                        ) -> Callable[[], None]:
        """``callback({agent: worker})`` with every claim, whenever one is taken or released by any
        worker (and after the listener reconnects); in ``loop`` (or the running loop) when given."""
        return self._subs.subscribe(callback, loop)

    def publish(self) -> None:
        self._subs.publish(self.agent_claims)

    def drop_claims_of(self, workers: list[str]) -> None:
        """Free every claim the given workers hold (they restarted, or died)."""
        with write_conn(self.engine) as conn:
            gone = list(conn.scalars(select(t.agent_claims.c.agent_id).where(t.agent_claims.c.worker.in_(workers))))
            if gone:
                conn.execute(t.agent_claims.delete().where(t.agent_claims.c.worker.in_(workers)))
                for a in gone:
                    self._notify(conn, a, False)

    def _notify(self, conn: Connection, agent_id: str, held: bool) -> None:
        if self._postgres:
            pg_notify(conn, AGENTS_CHANNEL, {"agent": agent_id, "held": held, "worker": self._worker()})
