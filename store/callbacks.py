"""The callback queue: due callbacks in order, claimed by one worker at a time, and their retries.

Rows are made by ``Calls.add_callback`` (through the writer, when the caller says yes). What the
scheduler (``routing.callbacks``) does to them happens at once, not through the writer: a worker
must know it holds a callback before it dials anyone. The claim is one conditional UPDATE
(``status = 'pending'`` → ``'in_progress'``), atomic on SQLite and PostgreSQL alike, so two
workers never place one callback; finishing is conditional on still holding it, so a supervisor's
cancel during the call is not undone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import Engine, func, or_, select, update

from routing.callbacks import Callback, Step

from . import schema as t
from .db import write_conn
from .values import aware, utcnow

_c = t.callbacks.c


def _row(r: Any) -> Callback:
    return Callback(r.id, r.number, r.call_id, r.skill, dict(r.summary or {}), int(r.attempts or 0),
                    r.requested_at, r.next_try_at)


class Callbacks:
    """The callback repository. ``worker()`` names this worker (claims are made in its name)."""

    def __init__(self, engine: Engine, worker: Callable[[], str | None]):
        self.engine = engine
        self._worker = worker

    def _me(self) -> str:
        return self._worker() or "?"

    # ---- the scheduler's side ----------------------------------------------------------------------
    def due(self, now: datetime, limit: int = 20) -> list[Callback]:
        """Pending callbacks whose time has come, oldest request first (consent given)."""
        q = (select(t.callbacks).where(_c.status == "pending", _c.consent.is_(True),
                                       or_(_c.next_try_at.is_(None), _c.next_try_at <= aware(now)))
             .order_by(_c.requested_at, _c.id).limit(max(1, int(limit))))
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q)]

    def claim(self, callback_id: str) -> bool:
        """Take a pending callback for this worker; False when another worker (or a cancel) was first."""
        now = utcnow()
        with write_conn(self.engine) as conn:
            return conn.execute(update(t.callbacks).where(_c.id == callback_id, _c.status == "pending")
                                .values(status="in_progress", claimed_by=self._me(), claimed_at=now,
                                        updated_at=now)).rowcount == 1

    def started(self, callback_id: str, agent: str) -> None:
        """The agent answered: the caller is being dialled."""
        with write_conn(self.engine) as conn:
            conn.execute(update(t.callbacks).where(_c.id == callback_id, _c.claimed_by == self._me())
                         .values(agent=agent[:64], updated_at=utcnow()))

    def finish(self, callback_id: str, step: Step, agent: str | None = None) -> bool:
        """Record an attempt's end (pending again, done, failed) if this worker still holds it."""
        values: dict[str, Any] = {"status": step.status, "attempts": step.attempts, "next_try_at": step.next_try_at,
                                  "last_result": step.result[:32], "claimed_by": None, "claimed_at": None,
                                  "updated_at": utcnow()}
        if agent is not None:
            values["agent"] = agent[:64]
        with write_conn(self.engine) as conn:
            return conn.execute(update(t.callbacks).where(_c.id == callback_id, _c.status == "in_progress",
                                                          _c.claimed_by == self._me()).values(**values)).rowcount == 1

    def requeue(self, *, mine: bool, older_than: datetime | None, dead_after_s: float | None = None) -> int:
        """Put back in progress callbacks nobody is placing: this worker's (it restarted), any
        claimed before ``older_than``, and, once this worker is registered, those of every worker
        without a heartbeat in the last ``dead_after_s`` (it died; the sweep forgets dead workers)."""
        conds = []
        if mine:
            conds.append(_c.claimed_by == self._me())
        if older_than is not None:
            conds.append(_c.claimed_at < aware(older_than))
        if dead_after_s is not None and self._registered():
            cutoff = utcnow() - timedelta(seconds=dead_after_s)
            live = select(t.workers.c.id).where(t.workers.c.heartbeat_at >= cutoff)
            conds.append(_c.claimed_by.not_in(live))
        if not conds:
            return 0
        with write_conn(self.engine) as conn:
            return conn.execute(update(t.callbacks).where(_c.status == "in_progress", or_(*conds))
                                .values(status="pending", claimed_by=None, claimed_at=None, updated_at=utcnow(),
                                        last_result="requeued")).rowcount

    def _registered(self) -> bool:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(t.workers).where(t.workers.c.id == self._me())) == 1

    # ---- the supervisor's side -----------------------------------------------------------------------
    def cancel(self, callback_id: str) -> bool:
        """Cancel a pending or in-progress callback (one being placed finishes its call, then stays cancelled)."""
        with write_conn(self.engine) as conn:
            return conn.execute(update(t.callbacks).where(_c.id == callback_id,
                                                          _c.status.in_(("pending", "in_progress", "scheduled")))
                                .values(status="cancelled", updated_at=utcnow(), claimed_by=None,
                                        claimed_at=None)).rowcount == 1

    def call_now(self, callback_id: str) -> bool:
        """Due now: a pending one skips its backoff; a failed one gets a fresh round of attempts."""
        now = utcnow()
        with write_conn(self.engine) as conn:
            n = conn.execute(update(t.callbacks).where(_c.id == callback_id, _c.status.in_(("pending", "scheduled")))
                             .values(status="pending", next_try_at=now, updated_at=now)).rowcount
            if not n:
                n = conn.execute(update(t.callbacks).where(_c.id == callback_id, _c.status == "failed")
                                 .values(status="pending", attempts=0, next_try_at=now, updated_at=now)).rowcount
            return n == 1

    # ---- reads ------------------------------------------------------------------------------------------
    def get(self, callback_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(t.callbacks).where(_c.id == callback_id)).first()
            return dict(r._mapping) if r is not None else None

    def list(self, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Newest request first."""
        q = select(t.callbacks).order_by(_c.requested_at.desc(), _c.id).limit(max(1, int(limit)))
        if status is not None:
            q = q.where(_c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {s: int(n) for s, n in conn.execute(select(_c.status, func.count()).group_by(_c.status))}
