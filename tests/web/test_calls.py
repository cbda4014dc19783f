"""The calls API (`web.routers.calls`): the stored calls, one call with its turns and what drove
each turn's frustration, its raw events, and dispositions from the agent who took the call."""

from __future__ import annotations

from datetime import datetime, timezone


def test_list_calls_newest_first(api, store, bearer, add_calls):
    first, second = add_calls(store)
    body = api.get("/api/calls", headers=bearer).json()
    assert body["total"] == 2 and [c["id"] for c in body["calls"]] == [second, first]
    latest, older = body["calls"]
    assert latest["ended_at"] is None and latest["outcome"] is None
    assert {k: older[k] for k in ("sip_call_id", "outcome", "intent", "escalation_reason", "agent")} == {
        "sip_call_id": "first@pbx", "outcome": "transferred", "intent": "cancel_service",
        "escalation_reason": "sensitive_intent", "agent": "sip:alice@agents"}
    assert datetime.fromisoformat(older["started_at"]) == datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)
    assert [c["id"] for c in api.get("/api/calls?limit=1&offset=1", headers=bearer).json()["calls"]] == [first]
    assert api.get("/api/calls?limit=0", headers=bearer).status_code == 422


def test_get_call(api, store, bearer, add_calls):
    first, _ = add_calls(store)
    call = api.get(f"/api/calls/{first}", headers=bearer).json()
    [turn] = call["turns"]
    assert turn["text"] == "I want to cancel" and turn["intent"] == "cancel_service"
    assert turn["frustration"] == {"score": 0.5, "smoothed": 0.4, "parts": {"text": 0.5}, "drove": "words"}
    assert call["decision"]["reason"] == "sensitive_intent" and call["decision"]["policy_version"] == 1
    [attempt] = call["transfer_attempts"]
    assert attempt["result"] == "answered" and attempt["time_to_transfer"] == 6.0
    assert call["summary"] == {"paragraph": "Wants to cancel.", "intent": "cancel_service"}
    events = api.get(f"/api/calls/{first}/events", headers=bearer).json()["events"]
    assert [e["event"] for e in events] == ["turn", "decision", "summary"]


def test_get_call_shows_each_turns_parts_and_what_drove_it(api, store, bearer):
    cid = store.call_started(None, "+15550000003", datetime(2026, 5, 4, 11, 0, tzinfo=timezone.utc))
    voice = {"text": 0.2, "prosody": 1.8, "dialogue": 0.0, "bias": -3.0}
    dialogue = {"text": -0.4, "prosody": 0.3, "dialogue": 1.1, "bias": -3.0}
    for i, fr in enumerate([{"score": 0.4, "smoothed": 0.4, "parts": voice},
                            {"score": 0.6, "smoothed": 0.5, "parts": dialogue},
                            {"score": 0.1, "smoothed": 0.3}]):  # the last as an older writer sent it: no parts
        store.record_event(cid, {"event": "turn", "index": i, "text": f"turn {i}", "frustration": fr})
    store.flush_sync()
    turns = api.get(f"/api/calls/{cid}", headers=bearer).json()["turns"]
    assert [t["frustration"]["parts"] for t in turns] == [voice, dialogue, None]
    assert [t["frustration"]["drove"] for t in turns] == ["voice", "dialogue", None]
    assert [t["frustration"]["score"] for t in turns] == [0.4, 0.6, 0.1]


def test_unknown_call_is_404(api, bearer):
    assert api.get("/api/calls/0123456789abcdef", headers=bearer).status_code == 404
    assert api.get("/api/calls/0123456789abcdef/events", headers=bearer).status_code == 404


def test_dispositions_only_from_the_agent_who_took_the_call(app, store, signed_in, csrf_of, transferred_call):
    cid = transferred_call(store, datetime.now(timezone.utc), [0.8])
    aid = store.transfer_attempt_started(cid, "alice")
    store.transfer_attempt_finished(aid, "answered")
    store.call_ended(cid, "transferred")
    store.flush_sync()
    body = {"escalation_right": True, "caller_frustrated": True, "reason_tag": "frustrated_caller",
            "note": "card 4111 1111 1111 1111 was read out"}
    bob = signed_in("bob")
    assert bob.post(f"/api/calls/{cid}/disposition", json=body, headers={"X-CSRF-Token": csrf_of(bob)}).status_code == 403
    alice = signed_in("alice")
    assert alice.get(f"/api/calls/{cid}").status_code == 200  # an agent sees the calls they took
    bad = alice.post(f"/api/calls/{cid}/disposition", json={**body, "reason_tag": "vibes"}, headers={"X-CSRF-Token": csrf_of(alice)})
    assert bad.status_code == 422 and bad.json()["field"] == "reason_tag"
    r = alice.post(f"/api/calls/{cid}/disposition", json=body, headers={"X-CSRF-Token": csrf_of(alice)})
    assert r.status_code == 201
    saved = store.accounts.dispositions(cid)
    assert len(saved) == 1 and saved[0]["agent"] == "alice" and saved[0]["caller_frustrated"] is True
    assert "4111 1111 1111 1111" not in saved[0]["note"]  # card numbers are masked
