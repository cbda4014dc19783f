"""The live view (`web.routers.live`): calls in progress with their frustration per turn, as JSON
and as the supervisors' page, and the call's detail page from there."""

from __future__ import annotations

from datetime import datetime, timezone


def test_live_view_shows_calls_in_progress_with_their_frustration(app, store, signed_in, transferred_call):
    cid = transferred_call(store, datetime.now(timezone.utc), [0.3, 0.6])
    store.record_event(cid, {"event": "bot", "start": 6.0, "text": "Let me check that order."})
    store.record_event(cid, {"event": "decision", "action": "transfer", "reason": "frustration",
                             "rule": "frustration >= 0.6 for 2 turns", "values": {"scores": [0.3, 0.6]}, "policy_version": 1})
    store.record_event(cid, {"event": "transfer", "state": "ringing", "agent": "alice"})
    store.flush_sync()
    sam = signed_in("sam")
    live = sam.get("/api/live").json()["calls"]
    assert [c["id"] for c in live] == [cid]
    assert live[0]["state"] == "transfer: ringing" and live[0]["frustration"] == [0.3, 0.6]
    page = sam.get("/live").text
    assert cid[:8] in page and "<polyline" in page
    detail = sam.get(f"/calls/{cid}")
    assert detail.status_code == 200
    assert "turn 1" in detail.text and "Let me check that order." in detail.text
    assert "frustration &gt;= 0.6 for 2 turns" in detail.text and "policy v1" in detail.text
