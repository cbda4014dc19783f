"""Several workers on one database: each registers, heartbeats, and closes the calls a dead
worker (one whose heartbeat went stale, or itself before a restart) left open.

Such a call is closed as ``interrupted`` and ``ended_abruptly``, ended at its last recorded event
(what the store has of it is all there is), with an ``interrupted`` event at the end of its log
saying who found it and why; the dead worker's agent claims are freed.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from calls.events import InterruptedEvent
from calls.outcome import Outcome

from . import schema as t
from .claims import Claims
from .db import SWEEP_LOCK, write_conn
from .values import cut as _s
from .values import utcnow

log = logging.getLogger("store")


class Workers:
    """The workers repository; ``stop`` ends the heartbeat (set by ``Store.close``)."""

    def __init__(self, engine: Engine, claims: Claims, worker: Callable[[], str | None], stop: threading.Event):
        self.engine = engine
        self._claims = claims
        self._worker = worker
        self._postgres = engine.dialect.name == "postgresql"
        self.stop = stop
        self.housekeeper: threading.Thread | None = None

    def register(self, worker_id: str, *, sip: str | None, heartbeat_s: float, stale_s: float) -> list[str]:
        """Write (or refresh) this worker's row, close what it left open, start the heartbeat."""
        now = utcnow()
        with write_conn(self.engine) as conn:
            n = conn.execute(update(t.workers).where(t.workers.c.id == worker_id)
                             .values(started_at=now, heartbeat_at=now, sip=_s(sip, 255))).rowcount
            if not n:
                conn.execute(insert(t.workers).values(id=worker_id, started_at=now, heartbeat_at=now, sip=_s(sip, 255)))
        closed = self.close_calls_of([worker_id], by=worker_id, reason="worker_restarted")
        self._claims.drop_claims_of([worker_id])
        if self.housekeeper is None:
            self.housekeeper = threading.Thread(target=self._housekeep, args=(heartbeat_s, stale_s),
                                                name="ivr-store-heartbeat", daemon=True)
            self.housekeeper.start()
        return closed

    def _housekeep(self, heartbeat_s: float, stale_s: float) -> None:
        while not self.stop.wait(heartbeat_s):
            try:
                with write_conn(self.engine) as conn:
                    conn.execute(update(t.workers).where(t.workers.c.id == self._worker()).values(heartbeat_at=utcnow()))
                self.sweep_dead_workers(stale_s)
            except (OperationalError, DBAPIError):
                pass  # the database is away: the writer says so; heartbeats resume with it

    def sweep_dead_workers(self, stale_s: float) -> list[str]:
        """Close the open calls of every other worker whose heartbeat is older than ``stale_s``
        (it died: killed, or its machine went away), free its agent claims and forget it."""
        me = self._worker()
        cutoff = utcnow() - timedelta(seconds=stale_s)
        with self.engine.connect() as conn:
            dead = list(conn.scalars(select(t.workers.c.id).where(t.workers.c.heartbeat_at < cutoff,
                                                                  t.workers.c.id != (me or ""))))
        if not dead:
            return []
        closed = self.close_calls_of(dead, by=me or "?", reason="worker_died")
        self._claims.drop_claims_of(dead)
        with write_conn(self.engine) as conn:
            conn.execute(t.workers.delete().where(t.workers.c.id.in_(dead), t.workers.c.heartbeat_at < cutoff))
        log.warning("store: worker(s) %s stopped heartbeating; closed %d open call(s) as interrupted",
                    ", ".join(dead), len(closed))
        return closed

    def close_calls_of(self, workers: list[str], *, by: str, reason: str) -> list[str]:
        """Mark the open calls of ``workers`` ended: outcome ``interrupted``, ``ended_abruptly``,
        ended at their last recorded event (what the store has of them is all there is), with an
        ``interrupted`` event at the end of their log saying who found them and why."""
        closed: list[str] = []
        with write_conn(self.engine) as conn:
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SWEEP_LOCK})
            rows = conn.execute(select(t.calls.c.id, t.calls.c.worker, t.calls.c.started_at)
                                .where(t.calls.c.ended_at.is_(None), t.calls.c.worker.in_(workers))).all()
            now = utcnow()
            for cid, worker, started in rows:
                last_seq, last_at = conn.execute(select(func.max(t.events.c.seq), func.max(t.events.c.at))
                                                 .where(t.events.c.call_id == cid)).one()
                conn.execute(insert(t.events).values(
                    call_id=cid, seq=0 if last_seq is None else last_seq + 1, kind="interrupted", at=now,
                    data=InterruptedEvent(worker=worker, reason=reason, found_by=by).to_json()))
                conn.execute(update(t.calls).where(t.calls.c.id == cid).values(
                    ended_at=last_at or started, outcome=Outcome.INTERRUPTED.value, ended_abruptly=True))
                closed.append(cid)
        return closed

    def workers(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t.workers).order_by(t.workers.c.id))]
