"""Per-source rate limits (token buckets): what keeps an INVITE flood from one address from
taking every worker's call slots.

`SourceLimiter.check(source)` is a pure decision over a clock: `OK` while the source's bucket
has a token (it refills at `rate` per second up to `burst`); `REJECT` (the endpoint answers 503
with Retry-After) for the next `hard` excess requests; `DROP` (silence, no transaction, no
reply to amplify) beyond that, until the source slows down. Buckets of quiet sources are
forgotten, so a spoofed-source flood cannot grow the table without bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
import time
from typing import Callable


class Verdict(str, Enum):
    OK = "ok"
    REJECT = "reject"
    DROP = "drop"


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class SourceLimiter:
    def __init__(self, rate: float, burst: int, *, hard: int = 20, max_sources: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1 or hard < 0:
            raise ValueError("rate limit: rate > 0, burst >= 1, hard >= 0")
        self.rate, self.burst, self.hard = float(rate), int(burst), int(hard)
        self.max_sources = max_sources
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.rejected = 0
        self.dropped = 0

    def check(self, source: str) -> Verdict:
        now = self.clock()
        b = self._buckets.get(source)
        if b is None:
            if len(self._buckets) >= self.max_sources:
                self._forget_quiet(now)
            b = self._buckets[source] = _Bucket(float(self.burst), now)
        b.tokens = min(float(self.burst), b.tokens + (now - b.stamp) * self.rate)
        b.stamp = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return Verdict.OK
        # Excess: the debt grows (to a floor), so a source that keeps flooding stays refused.
        b.tokens = max(b.tokens - 1.0, -float(self.hard) - 1.0)
        if b.tokens >= -float(self.hard):
            self.rejected += 1
            return Verdict.REJECT
        self.dropped += 1
        return Verdict.DROP

    def retry_after(self) -> int:
        """Seconds a refused source should wait: long enough for a token."""
        return max(1, int(round(1.0 / self.rate + 0.5)))

    def _forget_quiet(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.stamp) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_sources:  # all busy: forget the oldest half
            for k in sorted(self._buckets, key=lambda k: self._buckets[k].stamp)[: len(self._buckets) // 2]:
                del self._buckets[k]
