"""Failed authentication counted in the store: shared by two workers, kept across a restart, a
growing block of the source (silent, then 403), a flag on the user, and the pure decision."""

from __future__ import annotations

import pytest

from store import Store
from store.auth_guard import AuthFailures, GuardPolicy, SIP_POLICY, _after_failure


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def stores(db_url):
    a, b = Store(db_url, listen=False), Store(db_url, listen=False)
    yield a, b
    a.close()
    b.close()


def test_two_workers_share_the_count_and_the_block_grows(stores):
    clock = Clock()
    one, two = (AuthFailures(s.engine, clock=clock) for s in stores)
    for i in range(4):
        (one if i % 2 else two).failed("sip", "alice", "203.0.113.9")
    assert one.refusal("sip", "203.0.113.9") is None and two.refusal("sip", "203.0.113.9") is None
    one.failed("sip", "alice", "203.0.113.9")  # the fifth, counted across both workers
    assert one.refusal("sip", "203.0.113.9") == "drop"  # at once on the worker that wrote it
    clock.t += SIP_POLICY.cache_s
    assert two.refusal("sip", "203.0.113.9") == "drop"  # and on the other within cache_s
    assert one.blocked_for("sip", source="203.0.113.9") == pytest.approx(60 - SIP_POLICY.cache_s)
    assert two.refusal("sip", "198.51.100.1") is None  # another address is not affected
    clock.t += 60
    assert two.refusal("sip", "203.0.113.9") is None  # the block ran out
    for _ in range(5):
        two.failed("sip", "alice", "203.0.113.9")
    assert two.refusal("sip", "203.0.113.9") == "forbid"  # the second block answers 403...
    assert two.blocked_for("sip", source="203.0.113.9") == pytest.approx(120)  # ...for twice as long
    assert one.flagged("sip") == {"alice": clock.t}  # ten failures for one name: flagged for the panel
    assert two.blocked_for("sip", user="alice") == 0  # but a SIP name is never locked out


def test_the_count_survives_a_restart(db_url):
    clock = Clock()
    first = Store(db_url, listen=False)
    guard = AuthFailures(first.engine, clock=clock)
    for _ in range(5):
        guard.failed("web", "admin", "192.0.2.7")  # five wrong passwords for one panel user
    first.close()
    again = Store(db_url, listen=False)
    try:
        restarted = AuthFailures(again.engine, clock=clock)
        assert restarted.blocked_for("web", source="192.0.2.7", user="admin") == pytest.approx(300)
        assert restarted.blocked_for("web", source="192.0.2.8", user="someone") == 0
        restarted.clear("web", "admin")
        assert restarted.flagged("web") == {} and restarted.blocked_for("web", user="admin") == 0
    finally:
        again.close()


def test_success_restarts_the_users_count_but_keeps_the_flag():
    policy = GuardPolicy(thresholds={"user": 3}, blocks=frozenset())
    row = {"failures": 2, "strikes": 0, "last_at": 100.0, "blocked_until": None, "flagged_at": None}
    hit = _after_failure(row, "user", policy, 101.0)
    assert hit["flagged_at"] == 101.0 and hit["failures"] == 0 and "blocked_until" not in hit
    late = _after_failure(row, "user", policy, 100.0 + policy.window_s + 1)  # outside the window: start again
    assert late["failures"] == 1 and "flagged_at" not in late
    forgiven = _after_failure({**row, "strikes": 5}, "source", SIP_POLICY, 100.0 + SIP_POLICY.forgive_s + 1)
    assert forgiven["strikes"] == 0
    served = {**row, "failures": 4, "strikes": 11, "blocked_until": 100.0 + SIP_POLICY.max_block_s}
    after_a_long_block = _after_failure(served, "source", SIP_POLICY, 100.0 + SIP_POLICY.max_block_s + 1)
    assert after_a_long_block["strikes"] == 11  # kept, not reset: the day-long block is not a quiet day
    capped = _after_failure({**row, "failures": 4, "strikes": 30}, "source", SIP_POLICY, 101.0)
    assert capped["blocked_until"] == 101.0 + SIP_POLICY.max_block_s
