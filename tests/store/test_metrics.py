"""The metric queries over several calls: containment, escalations, time to transfer, surveys,
and the call list's paging."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


async def test_metrics_over_several_calls(store):
    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    outcomes = ["bot_resolved", "bot_resolved", "bot_resolved", "transferred", "transferred", "caller_hung_up"]
    ids = []
    for i, outcome in enumerate(outcomes):
        cid = store.call_started(f"c{i}", None, t0 + timedelta(minutes=i))
        ids.append(cid)
        if outcome == "transferred":
            store.record_event(cid, {"event": "decision", "action": "transfer", "reason": ["frustration", "dtmf"][i - 3],
                                     "rule": "r", "values": {}, "policy_version": 1}, at=t0 + timedelta(minutes=i))
            a = store.transfer_attempt_started(cid, "agent", t0 + timedelta(minutes=i, seconds=1))
            store.transfer_attempt_finished(a, "answered" if i == 3 else "no_answer", t0 + timedelta(minutes=i, seconds=9))
        store.call_ended(cid, outcome, ended_at=t0 + timedelta(minutes=i, seconds=30))
        store.survey(cid, 1 + i % 5)
    store.call_started("live", None, t0 + timedelta(hours=1))  # still going
    await store.flush()
    m = store.metrics()
    assert m["outcomes"] == {"bot_resolved": 3, "transferred": 2, "caller_hung_up": 1, "in_progress": 1}
    assert m["containment_rate"] == 0.5
    assert m["escalations_by_reason"] == {"frustration": 1, "dtmf": 1}
    assert m["time_to_transfer"] == [9.0]
    assert (m["transfers"]["answered"], m["transfers"]["abandoned"]) == (1, 1)
    assert m["survey"]["distribution"] == {1: 2, 2: 1, 3: 1, 4: 1, 5: 1}
    assert store.metrics(since=t0 + timedelta(minutes=4))["outcomes"] == {"transferred": 1, "caller_hung_up": 1,
                                                                          "in_progress": 1}
    # newest first, paged
    assert [c["sip_call_id"] for c in store.list_calls(3)] == ["live", "c5", "c4"]
    assert [c["sip_call_id"] for c in store.list_calls(2, offset=3)] == ["c3", "c2"]
    assert store.count_calls() == 7

