"""Failed authentication counted in the store, so every worker shares the count and a restart keeps it.

Two scopes use it: "sip" (digest answers to REGISTER, `telephony.registrar`) and "web" (the
panel's sign-in, `web.auth`). Each failure is counted under the source address and under the
user name tried. A subject whose failures within `window_s` reach its threshold takes a strike:
a blocked kind is refused until `blocked_until`, `block_s * 2**(strikes-1)` from now (capped), so
each new round of guessing waits twice as long; a user also gets `flagged_at`, which the panel
shows. Strikes are forgiven after `forgive_s` without a failure once the last block has ended
(so the longest block is never followed by the shortest).

Why synchronous, not on the store's writer queue: the next guess, a millisecond later, must see
the count. The writes are few (a blocked source is refused from a cache, without any write), and
each is one small transaction; what this worker wrote it knows at once, and what another worker
wrote it reads again after `cache_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import threading
import time
from typing import Any, Callable, Mapping

from sqlalchemy import Engine, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import schema as t

__all__ = ["AuthFailures", "GuardPolicy", "ScopedGuard", "SIP_POLICY", "WEB_POLICY"]


@dataclass(frozen=True)
class GuardPolicy:
    """Thresholds per kind of subject ("source", "user"), and which kinds a threshold blocks."""

    thresholds: Mapping[str, int] = field(default_factory=lambda: {"source": 5, "user": 10})
    blocks: frozenset[str] = frozenset({"source"})  # the other kinds are only flagged
    window_s: float = 900.0
    block_s: float = 60.0
    max_block_s: float = 86_400.0
    forgive_s: float = 86_400.0
    silent_strikes: int = 1  # the first blocks drop silently (the scanner times out); later ones answer 403
    cache_s: float = 1.0


# SIP: a phone that mistypes its password five times waits a minute; names are only flagged, so
# guessing cannot lock an agent's real phone out. Web: the old per-worker throttle's numbers, and a
# panel name is refused too (its password is tried far more slowly than a phone's can be).
SIP_POLICY = GuardPolicy()
WEB_POLICY = GuardPolicy(thresholds={"source": 20, "user": 5}, blocks=frozenset({"source", "user"}), window_s=300.0,
                         block_s=300.0, cache_s=0.0)  # a sign-in is one request a person makes: read every time


class AuthFailures:
    """`failed(scope, user, source)`, `refusal(scope, source)`, `blocked_for(...)`, `flagged(scope)`."""

    def __init__(self, engine: Engine, policies: Mapping[str, GuardPolicy] | None = None,
                 clock: Callable[[], float] = time.time):
        self.engine = engine
        self.policies = dict(policies or {"sip": SIP_POLICY, "web": WEB_POLICY})
        self.clock = clock
        self._cache: dict[tuple[str, str, str], tuple[float, float, int]] = {}  # key → (read at, until, strikes)
        self._lock = threading.Lock()
        self._writes = 0

    def policy(self, scope: str) -> GuardPolicy:
        return self.policies.get(scope, SIP_POLICY)

    def guard(self, scope: str) -> "ScopedGuard":
        return ScopedGuard(self, scope)

    # ---- reading ----------------------------------------------------------------------------------
    def _block(self, scope: str, kind: str, subject: str) -> tuple[float, int]:
        """(blocked until, strikes) of one subject, from the cache when it is fresh."""
        key = (scope, kind, subject[:128])
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.policy(scope).cache_s:
            return hit[1], hit[2]
        with self.engine.connect() as conn:
            row = conn.execute(select(t.auth_failures.c.blocked_until, t.auth_failures.c.strikes)
                               .where(*_pk(*key))).first()
        until, strikes = (float(row.blocked_until or 0.0), int(row.strikes)) if row else (0.0, 0)
        with self._lock:
            if len(self._cache) > 20_000:
                self._cache.clear()
            self._cache[key] = (now, until, strikes)
        return until, strikes

    def blocked_for(self, scope: str, **subjects: str) -> float:
        """Seconds until every given subject (source=..., user=...) may try again; 0 when none is blocked."""
        now = self.clock()
        waits = [self._block(scope, kind, subject)[0] - now for kind, subject in subjects.items()
                 if subject and kind in self.policy(scope).blocks]
        return max([0.0, *waits])

    def refusal(self, scope: str, source: str) -> str | None:
        """None, or how to refuse a blocked source: "drop" (its first blocks), then "forbid"."""
        until, strikes = self._block(scope, "source", source)
        if until <= self.clock():
            return None
        return "drop" if strikes <= self.policy(scope).silent_strikes else "forbid"

    def flagged(self, scope: str) -> dict[str, float]:
        """User names past their threshold in `scope`, with when (epoch seconds)."""
        q = (select(t.auth_failures.c.subject, t.auth_failures.c.flagged_at)
             .where(t.auth_failures.c.scope == scope, t.auth_failures.c.kind == "user",
                    t.auth_failures.c.flagged_at.is_not(None)))
        with self.engine.connect() as conn:
            return {r.subject: float(r.flagged_at) for r in conn.execute(q)}

    def blocked_sources(self) -> list[dict[str, Any]]:
        """The source addresses refused now, in every scope, the longest block first."""
        c = t.auth_failures.c
        q = (select(c.scope, c.subject, c.blocked_until, c.strikes)
             .where(c.kind == "source", c.blocked_until > self.clock()).order_by(c.blocked_until.desc()))
        with self.engine.connect() as conn:
            return [{"scope": r.scope, "source": r.subject, "until": float(r.blocked_until), "strikes": r.strikes}
                    for r in conn.execute(q)]

    def clear(self, scope: str, user: str) -> None:
        """An administrator looked: the user's count and flag go (a block of a source stays)."""
        with self.engine.begin() as conn:
            conn.execute(delete(t.auth_failures).where(*_pk(scope, "user", user[:128])))
        self._cache.pop((scope, "user", user[:128]), None)

    # ---- writing ----------------------------------------------------------------------------------
    def failed(self, scope: str, user: str, source: str) -> None:
        """Count one failure under the source and the user; strike (block, flag) what passed its threshold."""
        policy, now = self.policy(scope), self.clock()
        with self.engine.begin() as conn:
            for kind, subject in (("source", source), ("user", user)):
                if not subject:
                    continue
                key = (scope, kind, subject[:128])
                ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(t.auth_failures)
                conn.execute(ins.values(scope=key[0], kind=kind, subject=key[2], failures=0, strikes=0, last_at=now)
                             .on_conflict_do_nothing())
                q = select(t.auth_failures).where(*_pk(*key))
                row = conn.execute(q.with_for_update() if conn.dialect.name == "postgresql" else q).first()
                values = _after_failure(row._mapping, kind, policy, now)
                conn.execute(update(t.auth_failures).where(*_pk(*key)).values(**values))
                with self._lock:
                    self._cache[key] = (now, float(values.get("blocked_until", row.blocked_until) or 0.0),
                                        int(values.get("strikes", row.strikes)))
            self._writes += 1
            if self._writes % 256 == 0:  # forget old rows as we go (a spray of made-up names)
                old = now - policy.forgive_s
                conn.execute(delete(t.auth_failures).where(
                    t.auth_failures.c.last_at < old, t.auth_failures.c.flagged_at.is_(None),
                    or_(t.auth_failures.c.blocked_until.is_(None), t.auth_failures.c.blocked_until < now)))

    def succeeded(self, scope: str, user: str, source: str) -> None:
        """A right answer: the user's count starts again (its flag stays; the source's count too)."""
        with self.engine.begin() as conn:
            conn.execute(update(t.auth_failures).where(and_(*_pk(scope, "user", user[:128])),
                                                       t.auth_failures.c.failures > 0).values(failures=0))


def _pk(scope: str, kind: str, subject: str) -> tuple[Any, ...]:
    c = t.auth_failures.c
    return c.scope == scope, c.kind == kind, c.subject == subject


def _after_failure(row: Mapping[str, Any], kind: str, policy: GuardPolicy, now: float) -> dict[str, Any]:
    """The row's new values after one more failure (pure: the decision, apart from the I/O)."""
    quiet = now - max(float(row["last_at"]), float(row.get("blocked_until") or 0.0))  # since the last block ended
    strikes = int(row["strikes"]) if quiet < policy.forgive_s else 0
    failures = 1 if now - float(row["last_at"]) > policy.window_s else int(row["failures"]) + 1
    values: dict[str, Any] = {"failures": failures, "last_at": now, "strikes": strikes}
    if failures >= policy.thresholds.get(kind, 10**9):
        values["strikes"] = strikes = strikes + 1
        values["failures"] = 0
        if kind in policy.blocks:
            values["blocked_until"] = now + min(policy.max_block_s, policy.block_s * 2 ** (strikes - 1))
        if kind == "user" and row.get("flagged_at") is None:
            values["flagged_at"] = now
    return values


class ScopedGuard:
    """The registrar's `AuthGuard` (duck-typed: telephony does not import the store) for one scope."""

    def __init__(self, failures: AuthFailures, scope: str):
        self.failures, self.scope = failures, scope

    def refusal(self, source: str) -> str | None:
        return self.failures.refusal(self.scope, source)

    def failed(self, user: str, source: str) -> None:
        self.failures.failed(self.scope, user, source)

    def succeeded(self, user: str, source: str) -> None:
        self.failures.succeeded(self.scope, user, source)
