"""The HTTP API over the store (FastAPI's TestClient, a SQLite store in a temporary file)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from web.api import add_api_routes
from web.auth import Auth
from store import Store

TOKEN = "s3cret-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path}/api.db")
    yield s
    s.close()


def make_client(store: Store, token: str | None, client=("testclient", 50000)) -> TestClient:
    app = FastAPI()
    add_api_routes(app, store, Auth(store.accounts, admin_token=token))
    return TestClient(app, client=client)


@pytest.fixture
def api(store, monkeypatch):
    monkeypatch.delenv("IVR_ADMIN_TOKEN", raising=False)
    return make_client(store, TOKEN)


def _add_calls(store: Store) -> list[str]:
    t0 = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)
    first = store.call_started("first@pbx", "+15550000001", t0)
    store.record_event(first, {"event": "turn", "index": 0, "start": 1.0, "end": 2.0, "text": "I want to cancel",
                               "intent": "cancel_service", "confidence": 0.9, "entities": {},
                               "frustration": {"score": 0.5, "smoothed": 0.4, "parts": {"text": 0.5}}})
    store.record_event(first, {"event": "decision", "action": "transfer", "reason": "sensitive_intent",
                               "rule": "sensitive_intents contains cancel_service",
                               "values": {"intent": "cancel_service"}, "policy_version": 1})
    store.record_event(first, {"event": "summary", "paragraph": "Wants to cancel.", "intent": "cancel_service"})
    a = store.transfer_attempt_started(first, "sip:alice@agents", t0 + timedelta(seconds=5))
    store.transfer_attempt_finished(a, "answered", t0 + timedelta(seconds=11))
    store.call_ended(first, "transferred", ended_at=t0 + timedelta(minutes=3))
    second = store.call_started("second@pbx", "+15550000002", t0 + timedelta(minutes=10))  # still going
    store.flush_sync()
    return [first, second]


def test_token_required(api, store):
    assert api.get("/api/calls").status_code == 401
    r = api.get("/api/policy", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in r.text
    assert api.put("/api/policy", json=store.current_policy()[1].to_dict()).status_code == 401
    assert api.get("/api/calls", headers={"Authorization": TOKEN}).status_code == 401  # no scheme
    assert api.get("/api/calls", headers=AUTH).status_code == 200
    assert store.current_policy()[0] == 1


def test_token_from_the_environment(store, monkeypatch):
    monkeypatch.setenv("IVR_ADMIN_TOKEN", "from-env")
    client = make_client(store, None, client=("127.0.0.1", 40000))  # loopback is not enough then
    assert client.get("/api/calls").status_code == 401
    assert client.get("/api/calls", headers={"Authorization": "Bearer from-env"}).status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "10.1.2.3"])
def test_anonymous_is_refused_from_anywhere(store, monkeypatch, host):
    monkeypatch.delenv("IVR_ADMIN_TOKEN", raising=False)
    client = make_client(store, None, client=(host, 40000))
    assert client.get("/api/calls").status_code == 401
    assert client.get("/api/policy").status_code == 401


def test_the_token_is_never_logged(store, monkeypatch, caplog):
    monkeypatch.delenv("IVR_ADMIN_TOKEN", raising=False)
    caplog.set_level(logging.DEBUG)
    api = make_client(store, TOKEN)
    api.get("/api/calls", headers={"Authorization": "Bearer nope"})
    doc = api.get("/api/policy", headers=AUTH).json()
    api.put("/api/policy", json={**doc, "max_no_match": 4}, headers=AUTH)
    assert caplog.records and TOKEN not in caplog.text


def test_list_calls_newest_first(api, store):
    first, second = _add_calls(store)
    body = api.get("/api/calls", headers=AUTH).json()
    assert body["total"] == 2 and [c["id"] for c in body["calls"]] == [second, first]
    latest, older = body["calls"]
    assert latest["ended_at"] is None and latest["outcome"] is None
    assert {k: older[k] for k in ("sip_call_id", "outcome", "intent", "escalation_reason", "agent")} == {
        "sip_call_id": "first@pbx", "outcome": "transferred", "intent": "cancel_service",
        "escalation_reason": "sensitive_intent", "agent": "sip:alice@agents"}
    assert datetime.fromisoformat(older["started_at"]) == datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)
    assert [c["id"] for c in api.get("/api/calls?limit=1&offset=1", headers=AUTH).json()["calls"]] == [first]
    assert api.get("/api/calls?limit=0", headers=AUTH).status_code == 422


def test_get_call(api, store):
    first, _ = _add_calls(store)
    call = api.get(f"/api/calls/{first}", headers=AUTH).json()
    [turn] = call["turns"]
    assert turn["text"] == "I want to cancel" and turn["intent"] == "cancel_service"
    assert turn["frustration"] == {"score": 0.5, "smoothed": 0.4, "parts": {"text": 0.5}, "drove": "words"}
    assert call["decision"]["reason"] == "sensitive_intent" and call["decision"]["policy_version"] == 1
    [attempt] = call["transfer_attempts"]
    assert attempt["result"] == "answered" and attempt["time_to_transfer"] == 6.0
    assert call["summary"] == {"paragraph": "Wants to cancel.", "intent": "cancel_service"}
    events = api.get(f"/api/calls/{first}/events", headers=AUTH).json()["events"]
    assert [e["event"] for e in events] == ["turn", "decision", "summary"]


def test_get_call_shows_each_turns_parts_and_what_drove_it(api, store):
    cid = store.call_started(None, "+15550000003", datetime(2026, 5, 4, 11, 0, tzinfo=timezone.utc))
    voice = {"text": 0.2, "prosody": 1.8, "dialogue": 0.0, "bias": -3.0}
    dialogue = {"text": -0.4, "prosody": 0.3, "dialogue": 1.1, "bias": -3.0}
    for i, fr in enumerate([{"score": 0.4, "smoothed": 0.4, "parts": voice},
                            {"score": 0.6, "smoothed": 0.5, "parts": dialogue},
                            {"score": 0.1, "smoothed": 0.3}]):  # the last as an older writer sent it: no parts
        store.record_event(cid, {"event": "turn", "index": i, "text": f"turn {i}", "frustration": fr})
    store.flush_sync()
    turns = api.get(f"/api/calls/{cid}", headers=AUTH).json()["turns"]
    assert [t["frustration"]["parts"] for t in turns] == [voice, dialogue, None]
    assert [t["frustration"]["drove"] for t in turns] == ["voice", "dialogue", None]
    assert [t["frustration"]["score"] for t in turns] == [0.4, 0.6, 0.1]


def test_unknown_call_is_404(api):
    assert api.get("/api/calls/0123456789abcdef", headers=AUTH).status_code == 404
    assert api.get("/api/calls/0123456789abcdef/events", headers=AUTH).status_code == 404


def test_get_and_put_policy(api, store):
    doc = api.get("/api/policy", headers=AUTH).json()
    assert doc == store.current_policy()[1].to_dict() and doc["version"] == 1
    doc["frustration"]["threshold"] = 0.72
    doc["always_human_tiers"] = ["platinum"]
    r = api.put("/api/policy?comment=platinum%20always%20human", json=doc, headers=AUTH)
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["version"] == 2 and new["frustration"]["threshold"] == 0.72 and new["always_human_tiers"] == ["platinum"]
    assert api.get("/api/policy", headers=AUTH).json() == new
    assert store.current_policy()[1].always_human_tiers == ("platinum",)

    history = api.get("/api/policy/history", headers=AUTH).json()["versions"]
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["author"] == "admin-token" and history[0]["comment"] == "platinum always human"
    assert history[0]["diff"] == {"always_human_tiers": {"from": [], "to": ["platinum"]},
                                  "frustration.threshold": {"from": 0.6, "to": 0.72}}

    r = api.post("/api/policy/rollback/1", headers=AUTH)
    assert r.status_code == 200 and r.json()["version"] == 3 and r.json()["always_human_tiers"] == []
    assert api.post("/api/policy/rollback/99", headers=AUTH).status_code == 404


@pytest.mark.parametrize("change, field", [
    ({"frustration": {"threshold": 1.5, "turns": 2, "ceiling": 0.85}}, "frustration.threshold"),
    ({"frustration": {"threshold": 0.6, "turns": 0, "ceiling": 0.85}}, "frustration.turns"),
    ({"max_no_match": "three"}, "max_no_match"),
    ({"dtmf_zero": "yes"}, "dtmf_zero"),
    ({"sensitive_intents": "complaint"}, "sensitive_intents"),
    ({"max_bot_seconds": -1}, "max_bot_seconds"),
    ({"colour": "blue"}, "colour"),
    ({"version": "latest"}, "version"),
])
def test_invalid_policy_is_422_naming_the_field(api, store, change, field):
    doc = {**api.get("/api/policy", headers=AUTH).json(), **change}
    r = api.put("/api/policy", json=doc, headers=AUTH)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field and body["detail"].split(":")[0] in (field, field.replace(".", "_"))
    assert store.current_policy()[0] == 1 and len(store.policy_history()) == 1  # nothing changed


def test_put_needs_the_whole_document(api, store):
    r = api.put("/api/policy", json={"max_no_match": 4}, headers=AUTH)
    assert r.status_code == 422 and r.json()["field"] == "always_human_tiers"
    r = api.put("/api/policy", json=["not", "a", "policy"], headers=AUTH)
    assert r.status_code == 422 and r.json()["field"] == "policy"
    assert store.current_policy()[0] == 1


def test_a_whole_document_from_before_a_field_was_added_keeps_its_current_value(api, store):
    doc = api.get("/api/policy", headers=AUTH).json()
    doc["frustration"]["corroborate"] = False
    assert api.put("/api/policy", json=doc, headers=AUTH).status_code == 200
    old_client = api.get("/api/policy", headers=AUTH).json()
    del old_client["frustration"]["corroborate"]
    r = api.put("/api/policy", json={**old_client, "max_no_match": 4}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["frustration"]["corroborate"] is False and r.json()["max_no_match"] == 4
    del old_client["max_no_input"]  # a field that was always there is still required
    assert api.put("/api/policy", json=old_client, headers=AUTH).json()["field"] == "max_no_input"


def test_put_from_a_stale_version_is_409(api, store):
    doc = api.get("/api/policy", headers=AUTH).json()
    assert api.put("/api/policy", json={**doc, "max_no_match": 4}, headers=AUTH).status_code == 200
    r = api.put("/api/policy", json={**doc, "max_no_match": 5}, headers=AUTH)  # still says version 1
    assert r.status_code == 409 and r.json()["current_version"] == 2
    assert store.current_policy()[1].max_no_match == 4


def test_put_reaches_policy_subscribers(api, store):
    seen = []
    store.on_policy_change(lambda v, p: seen.append((v, p.max_no_input)))
    doc = api.get("/api/policy", headers=AUTH).json()
    api.put("/api/policy", json={**doc, "max_no_input": 5}, headers=AUTH)
    assert seen == [(2, 5)]


def test_metrics_summary(api, store):
    _add_calls(store)
    m = api.get("/api/metrics/summary", headers=AUTH).json()
    assert m["outcomes"] == {"transferred": 1, "in_progress": 1} and m["time_to_transfer"] == [6.0]
