"""The product brief's after-hand-off figures (`store.metrics`): resolution after hand-off (the
disposition's "resolved?"), handle time after transfer (the `done` transfer event's handle_s),
callback kept rate, repeat callers within 7 days; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from routing.callbacks import Step

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


async def test_resolution_after_handoff_counts_each_calls_last_answer(store):
    calls = [store.call_started(f"c{i}", None, T0 + timedelta(minutes=i)) for i in range(4)]
    await store.flush()
    store.accounts.add_disposition(calls[0], "alice", escalation_right=True, reason_tag="other", resolved=False)
    store.accounts.add_disposition(calls[0], "alice", escalation_right=True, reason_tag="other", resolved=True)
    store.accounts.add_disposition(calls[1], "alice", escalation_right=True, reason_tag="other", resolved=False)
    store.accounts.add_disposition(calls[2], "bob", escalation_right=False, reason_tag="other")  # did not say
    r = store.metrics()["resolution_after_handoff"]
    assert r == {"answered": 2, "resolved": 1, "rate": 0.5}
    assert store.accounts.dispositions(calls[2])[0]["resolved"] is None
    assert store.metrics(T0 + timedelta(minutes=1))["resolution_after_handoff"]["answered"] == 1


async def test_handle_time_after_transfer_from_the_done_events(store):
    for i, handle in enumerate((30.0, 90.0, 60.0)):
        cid = store.call_started(f"h{i}", None, T0 + timedelta(minutes=i))
        store.record_event(cid, {"event": "transfer", "state": "bridged", "agent": "alice", "time_to_bridge_s": 9.0})
        store.record_event(cid, {"event": "transfer", "state": "done", "agent": "alice", "ended": "agent_bye",
                                 "handle_s": handle})
    other = store.call_started("refer", None, T0)
    store.record_event(other, {"event": "transfer", "state": "done", "agent": "alice", "mode": "refer"})  # no bridge of ours
    await store.flush()
    h = store.metrics()["handle_time"]
    assert (h["count"], h["median_s"], h["p95_s"]) == (3, 60.0, 90.0)
    assert sorted(h["values"]) == [30.0, 60.0, 90.0]
    assert store.metrics(T0 + timedelta(minutes=2))["handle_time"]["values"] == [60.0]


async def test_callback_kept_rate_is_done_over_done_or_failed(store):
    cid = store.call_started("cb", "+15550100", T0)
    await store.flush()
    ids = [store.add_callback(cid, f"+1555010{i}", requested_at=T0 + timedelta(minutes=i)) for i in range(5)]
    await store.flush()
    for i, status in ((0, "done"), (1, "done"), (2, "failed")):
        assert store.callbacks.claim(ids[i])
        store.callbacks.finish(ids[i], Step(status, None, 1, "answered" if status == "done" else "no_answer"), "alice")
    store.callbacks.cancel(ids[3])
    c = store.metrics()["callbacks_kept"]
    assert c == {"kept": 2, "failed": 1, "open": 1, "cancelled": 1, "rate": round(2 / 3, 4)}
    assert store.metrics(T0 + timedelta(minutes=2))["callbacks_kept"]["kept"] == 0


async def test_repeat_callers_within_seven_days(store):
    day = timedelta(days=1)
    for number, when in (("+1A", T0), ("+1A", T0 + 2 * day), ("+1A", T0 + 12 * day),  # one repeat, then too late
                         ("+1B", T0 + day), ("+1B", T0 + day + timedelta(hours=3)),  # a repeat the same day
                         ("+1C", T0 + 3 * day), (None, T0 + 3 * day), (None, T0 + 4 * day)):  # no number: not counted
        store.call_started(None, number, when)
    await store.flush()
    rep = store.metrics()["repeat_callers"]
    assert (rep["calls"], rep["repeats"], rep["days"], rep["rate"]) == (6, 2, 7, round(2 / 6, 4))
    # A window that starts after a caller's first call still counts their next one as a repeat.
    later = store.metrics(T0 + 2 * day)["repeat_callers"]
    assert (later["calls"], later["repeats"]) == (3, 1)
