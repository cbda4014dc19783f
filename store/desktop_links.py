"""Revoking agents' desktop links: per agent, a time before which its signed links are refused.

The links themselves are signed and carry their expiry (`web.desktop.DesktopTokens`), so nothing
per link is stored; `revoke(agent)` ends every link issued so far (a lost laptop, a leaver), and
links issued afterwards work. Each worker re-reads an agent's time at most every `cache_s`.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import schema as t


class DesktopLinks:
    def __init__(self, engine: Engine, *, cache_s: float = 5.0, clock: Callable[[], float] = time.time):
        self.engine, self.cache_s, self.clock = engine, cache_s, clock
        self._cache: dict[str, tuple[float, float]] = {}  # agent → (read at, not before)
        self._lock = threading.Lock()

    def revoke(self, agent_id: str) -> float:
        """Refuse every link of `agent_id` issued until now; returns that time."""
        now = self.clock()
        with self.engine.begin() as conn:
            ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(t.desktop_revocations)
            conn.execute(ins.values(agent_id=agent_id, not_before=now)
                         .on_conflict_do_update(index_elements=["agent_id"], set_={"not_before": now}))
        with self._lock:
            self._cache[agent_id] = (now, now)
        return now

    def not_before(self, agent_id: str) -> float:
        """Links of `agent_id` issued before this (epoch seconds) are refused; 0 when none were revoked."""
        now = self.clock()
        hit = self._cache.get(agent_id)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        with self.engine.connect() as conn:
            value = conn.scalar(select(t.desktop_revocations.c.not_before)
                                .where(t.desktop_revocations.c.agent_id == agent_id))
        with self._lock:
            self._cache[agent_id] = (now, float(value or 0.0))
        return float(value or 0.0)
