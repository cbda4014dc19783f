"""The web panel and its sign-in, through FastAPI's TestClient on a real SQLite store: who may see
and change what, CSRF, throttling, the policy form with its validation, what-if and rollback,
dispositions, and the desktop socket's authorisation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from routing.agents import AgentDirectory, load_agents
from web.api import add_api_routes
from web.auth import Auth, LoginThrottle, hash_password, verify_password
from web.desktop import desktop_routes
from web.panel import add_panel_routes, form_to_policy_doc
from routing.policy import PolicyError
from routing.screenpop import ScreenPopHub
from store import Store

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path}/web.db")
    for name, role in (("ada", "admin"), ("sam", "supervisor"), ("alice", "agent"), ("bob", "agent")):
        s.accounts.add_user(name, role, hash_password(PASSWORD))
    yield s
    s.close()


@pytest.fixture
def app(store, monkeypatch):
    monkeypatch.delenv("IVR_ADMIN_TOKEN", raising=False)
    app = FastAPI()
    auth = Auth(store.accounts, per_user=LoginThrottle(3, 60.0))
    directory = AgentDirectory(load_agents(["alice=sip:alice@127.0.0.1:5999", "bob=sip:bob@127.0.0.1:5998"]))
    add_api_routes(app, store, auth)
    add_panel_routes(app, store, auth)
    app.include_router(desktop_routes(ScreenPopHub(), directory, token_for_agent={}, auth=auth))
    return app


def login(client: TestClient, name: str, password: str = PASSWORD, next: str = "/"):
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf": csrf, "next": next},
                       follow_redirects=False)


def signed_in(app, name: str) -> TestClient:
    client = TestClient(app)
    r = login(client, name)
    assert r.status_code == 303, r.text
    return client


def csrf_of(client: TestClient) -> str:
    return client.get("/api/me").json()["csrf"]


def _transferred_call(store: Store, t0: datetime, scores: list[float]) -> str:
    cid = store.call_started(None, "+15550001111", t0)
    for i, s in enumerate(scores):
        store.record_event(cid, {"event": "turn", "index": i, "start": i * 5.0, "end": i * 5.0 + 2, "text": f"turn {i}",
                                 "intent": "order_status", "frustration": {"score": s, "smoothed": s},
                                 "signals": {"no_match": 0, "no_input": 0, "bot_seconds": i * 5.0}})
    return cid


# ------------------------------------------------------------------------------ sign-in


def test_passwords_are_argon2id_and_verify_only_themselves():
    h = hash_password(PASSWORD)
    assert h.startswith("$argon2id$") and PASSWORD not in h
    assert verify_password(h, PASSWORD) and not verify_password(h, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    with pytest.raises(ValueError):
        hash_password("short")


def test_anonymous_pages_go_to_sign_in_and_the_api_says_401(app):
    client = TestClient(app)
    for page in ("/live", "/policy", "/policy/history", "/dashboard", "/calls/abc", "/"):
        r = client.get(page, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), page
    for path in ("/api/calls", "/api/policy", "/api/live", "/api/metrics/summary", "/api/me"):
        assert client.get(path).status_code == 401, path
    assert client.put("/api/policy", json={}).status_code == 401


def test_sign_in_sets_a_safe_session_cookie_and_sign_out_ends_it(app, store):
    client = TestClient(app)
    r = login(client, "ada", next="/policy")
    assert r.status_code == 303 and r.headers["location"] == "/policy"
    cookie = r.headers["set-cookie"]
    assert "ivr_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    me = client.get("/api/me").json()
    assert (me["name"], me["role"]) == ("ada", "admin") and me["csrf"]
    token = client.cookies.get("ivr_session")
    assert token not in str(store.accounts.list_users())
    r = client.post("/logout", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set("ivr_session", token)  # the old cookie, replayed, signs no one in
    assert client.get("/api/me").status_code == 401


def test_wrong_password_and_missing_login_csrf_are_refused(app):
    client = TestClient(app)
    r = login(client, "ada", "wrong password")
    assert r.status_code == 401 and "Wrong user name or password" in r.text and "ivr_session" not in r.headers.get("set-cookie", "")
    assert login(client, "nobody").status_code == 401
    r = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403


def test_failed_sign_ins_are_throttled_even_for_the_right_password(app):
    client = TestClient(app)
    for _ in range(3):
        assert login(client, "sam", "guess-guess").status_code == 401
    r = login(client, "sam")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert login(client, "ada").status_code == 303  # another user is not locked out


def test_throttle_window_slides():
    now = [0.0]
    t = LoginThrottle(2, 10.0, clock=lambda: now[0])
    t.failed("k"), t.failed("k")
    assert t.retry_after("k") == pytest.approx(10.0)
    now[0] = 10.5
    assert t.retry_after("k") == 0.0


def test_no_open_redirect_after_sign_in(app):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil"):
        r = login(TestClient(app), "ada", next=target)
        assert r.headers["location"] == "/", target


# ------------------------------------------------------------------------------ roles


def test_an_agent_gets_403_on_policy_and_on_others_screen_pops(app):
    alice = signed_in(app, "alice")
    assert alice.get("/api/policy").status_code == 403
    assert alice.put("/api/policy", json={}).status_code == 403
    page = alice.get("/policy", headers={"accept": "text/html"})
    assert page.status_code == 403 and "may not see this page" in page.text
    assert alice.get("/api/calls").status_code == 403
    assert alice.get("/desktop", follow_redirects=False).headers["location"] == "/desktop/alice"
    assert alice.get("/desktop/alice").status_code == 200
    assert alice.get("/desktop/bob").status_code == 403
    with alice.websocket_connect("/ws/agent/alice") as ws:
        assert ws.receive_json()["type"] == "hello"
    with alice.websocket_connect("/ws/agent/bob") as ws:
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_json()
        assert exc.value.code == 1008


def test_a_cross_site_page_cannot_open_an_agents_socket(app):
    alice = signed_in(app, "alice")
    with alice.websocket_connect("/ws/agent/alice", headers={"origin": "http://evil.example"}) as ws:
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_json()
        assert exc.value.code == 1008


def test_a_supervisor_watches_but_does_not_change_the_policy(app, store):
    sam = signed_in(app, "sam")
    assert sam.get("/api/policy").status_code == 200
    assert sam.get("/live").status_code == 200 and sam.get("/dashboard").status_code == 200
    page = sam.get("/policy")
    assert page.status_code == 200 and "disabled" in page.text and 'id="save"' not in page.text
    csrf = re.search(r'name="csrf-token" content="([^"]*)"', page.text).group(1)
    assert sam.put("/api/policy", json=store.current_policy()[1].to_dict(), headers={"X-CSRF-Token": csrf}).status_code == 403
    assert sam.post("/policy", data={"csrf": csrf}).status_code == 403
    assert sam.get("/desktop/bob").status_code == 200  # supervisors may watch any desktop
    assert store.current_policy()[0] == 1


# ------------------------------------------------------------------------------ CSRF and the policy form


def test_cookie_signed_changes_need_the_csrf_token(app, store):
    ada = signed_in(app, "ada")
    doc = store.current_policy()[1].to_dict()
    doc["max_no_match"] = 4
    assert ada.put("/api/policy", json=doc).status_code == 403
    assert ada.put("/api/policy", json=doc, headers={"X-CSRF-Token": "nope"}).status_code == 403
    csrf = csrf_of(ada)
    assert ada.put("/api/policy", json=doc, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"}).status_code == 403
    assert store.current_policy()[0] == 1
    r = ada.put("/api/policy", json=doc, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["max_no_match"] == 4


def _form(ada: TestClient, **changes) -> dict:
    page = ada.get("/policy").text
    data = {"csrf": re.search(r'name="csrf-token" content="([^"]*)"', page).group(1),
            "version": re.search(r'name="version" value="(\d+)"', page).group(1)}
    for name, value in re.findall(r'<input id="([a-z_.]+)" name="[a-z_.]+" value="([^"]*)"', page):
        data[name] = value
    for name, value in re.findall(r'<textarea id="([a-z_.]+)" name="[a-z_.]+"[^>]*>([^<]*)</textarea>', page):
        data[name] = value
    for name in re.findall(r'<input type="checkbox" id="([a-z_.]+)"[^>]*checked', page):
        data[name] = "true"
    data.update(changes)
    return data


def test_the_policy_form_saves_a_new_audited_version(app, store):
    ada = signed_in(app, "ada")
    r = ada.post("/policy", data=_form(ada, **{"frustration.threshold": "0.45", "comment": "sooner"}), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/policy?saved=2"
    version, policy = store.current_policy()
    assert version == 2 and policy.frustration_threshold == 0.45 and policy.dtmf_zero is True
    assert policy.sensitive_intents == store.get_policy_version(1).sensitive_intents
    history = ada.get("/policy/history").text
    assert "ada" in history and "frustration.threshold" in history and "sooner" in history


@pytest.mark.parametrize("field, value, words", [
    ("frustration.threshold", "1.5", "from 0 to 1"),
    ("frustration.turns", "two", "whole number"),
    ("max_bot_seconds", "-3", "positive"),
])
def test_an_invalid_value_is_shown_at_its_field_and_nothing_changes(app, store, field, value, words):
    ada = signed_in(app, "ada")
    r = ada.post("/policy", data=_form(ada, **{field: value}))
    assert r.status_code == 422 and words in r.text
    assert f'class="field invalid" id="field-{field.replace(".", "-")}"' in r.text
    assert value in r.text  # what the admin typed is kept for them to fix
    assert store.current_policy()[0] == 1


def test_a_stale_form_is_refused_when_someone_saved_first(app, store):
    ada = signed_in(app, "ada")
    stale = _form(ada, **{"max_no_input": "5"})
    store.save_policy({**store.current_policy()[1].to_dict(), "max_no_match": 5}, "someone")
    r = ada.post("/policy", data=stale)
    assert r.status_code == 409 and "reload" in r.text
    assert store.current_policy()[1].max_no_input == 3


def test_rollback_from_the_history_page(app, store):
    ada = signed_in(app, "ada")
    store.save_policy({**store.current_policy()[1].to_dict(), "max_no_match": 9}, "someone")
    r = ada.post("/policy/rollback/1", data={"csrf": csrf_of(ada)}, follow_redirects=False)
    assert r.status_code == 303
    version, policy = store.current_policy()
    assert version == 3 and policy.max_no_match == store.get_policy_version(1).max_no_match
    assert store.policy_history(1)[0]["author"] == "ada"
    assert ada.post("/policy/rollback/1", data={"csrf": "wrong"}).status_code == 403


def test_form_parsing_names_the_field():
    with pytest.raises(PolicyError, match="^frustration.ceiling:"):
        form_to_policy_doc({"frustration.threshold": "0.5", "frustration.turns": "2", "frustration.ceiling": "x"})


# ------------------------------------------------------------------------------ what-if, live view, calls


def test_what_if_replays_the_period_under_the_proposed_values(app, store):
    now = datetime.now(timezone.utc)
    calm = _transferred_call(store, now - timedelta(hours=2), [0.2, 0.3, 0.3])
    store.call_ended(calm, "bot_resolved")
    angry = _transferred_call(store, now - timedelta(hours=1), [0.5, 0.7, 0.75])
    store.record_event(angry, {"event": "decision", "action": "transfer", "reason": "frustration"})
    store.call_ended(angry, "transferred")
    old = _transferred_call(store, now - timedelta(days=30), [0.9, 0.9])
    store.call_ended(old, "bot_resolved")
    store.flush_sync()
    ada = signed_in(app, "ada")
    csrf = csrf_of(ada)
    form = _form(ada, **{"frustration.threshold": "0.25", "frustration.turns": "2"})
    r = ada.post("/policy/whatif", data=form, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["calls"] == 2  # the 30-day-old call is outside the default week
    assert out["transferred_before"] == 1 and out["transferred_after"] == 2
    assert out["containment_before"] == 0.5 and out["containment_after"] == 0.0
    assert [c["call_id"] for c in out["changed"]] == [calm] and out["changed"][0]["after"] == "frustration"
    assert store.current_policy()[0] == 1  # a what-if saves nothing
    # and through the JSON API, for scripts
    api = ada.post("/api/policy/whatif", json={"policy": {"frustration": {"threshold": 0.95}}},
                   headers={"X-CSRF-Token": csrf}).json()
    assert api["transferred_after"] == 0 and [c["call_id"] for c in api["changed"]] == [angry]
    bad = ada.post("/policy/whatif", data={**form, "frustration.threshold": "7"}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422 and "threshold" in bad.json()["detail"]


def test_live_view_shows_calls_in_progress_with_their_frustration(app, store):
    cid = _transferred_call(store, datetime.now(timezone.utc), [0.3, 0.6])
    store.record_event(cid, {"event": "bot", "start": 6.0, "text": "Let me check that order."})
    store.record_event(cid, {"event": "decision", "action": "transfer", "reason": "frustration",
                             "rule": "frustration >= 0.6 for 2 turns", "values": {"scores": [0.3, 0.6]}, "policy_version": 1})
    store.record_event(cid, {"event": "transfer", "state": "ringing", "agent": "alice"})
    store.flush_sync()
    sam = signed_in(app, "sam")
    live = sam.get("/api/live").json()["calls"]
    assert [c["id"] for c in live] == [cid]
    assert live[0]["state"] == "transfer: ringing" and live[0]["frustration"] == [0.3, 0.6]
    page = sam.get("/live").text
    assert cid[:8] in page and "<polyline" in page
    detail = sam.get(f"/calls/{cid}")
    assert detail.status_code == 200
    assert "turn 1" in detail.text and "Let me check that order." in detail.text
    assert "frustration &gt;= 0.6 for 2 turns" in detail.text and "policy v1" in detail.text


def test_the_call_page_shows_each_turns_score_and_what_drove_it(app, store):
    cid = store.call_started(None, "+15550001111", datetime.now(timezone.utc))
    turns = [("where is my order", {"score": 0.12, "smoothed": 0.12,
                                    "parts": {"text": 0.3, "prosody": 0.1, "dialogue": 0.0, "bias": -3.0}}),
             ("I ALREADY told you", {"score": 0.81, "smoothed": 0.47,
                                     "parts": {"text": 0.9, "prosody": 2.2, "dialogue": 0.4, "bias": -3.0}}),
             ("[no input]", {"score": 0.35, "smoothed": 0.41,
                             "parts": {"text": 0.0, "prosody": -0.2, "dialogue": 1.3, "bias": -3.0}}),
             ("stored before the parts", {"score": 0.2, "smoothed": 0.3})]
    for i, (words, fr) in enumerate(turns):
        store.record_event(cid, {"event": "turn", "index": i, "start": i * 5.0, "text": words, "frustration": fr})
    store.flush_sync()
    page = signed_in(app, "sam").get(f"/calls/{cid}")
    assert page.status_code == 200 and "style-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    strip = html.split('id="strip"')[1].split("</td>")[0]
    assert re.findall(r'class="turnbar drove-(\w+)"', strip) == ["words", "voice", "dialogue", "none"]
    assert "<b>0.81</b> <small>voice</small>" in strip and "<b>0.20</b> <small>—</small>" in strip
    assert 'title="turn 2: 0.81 (smoothed 0.47); voice +2.20, words +0.90, dialogue +0.40"' in strip
    assert 'height="19.4"' in strip  # the bar is as tall as the score (0.81 of 24)
    table = html.split('id="transcript"')[1].split("</table>")[0]
    assert len(re.findall(r'class="turnbar drove-', table)) == 4  # the same per turn in the transcript
    assert "smoothed 0.47" in table
    assert " style=" not in html and "<script>" not in html  # nothing inline the CSP would refuse


def test_dispositions_only_from_the_agent_who_took_the_call(app, store):
    cid = _transferred_call(store, datetime.now(timezone.utc), [0.8])
    aid = store.transfer_attempt_started(cid, "alice")
    store.transfer_attempt_finished(aid, "answered")
    store.call_ended(cid, "transferred")
    store.flush_sync()
    body = {"escalation_right": True, "caller_frustrated": True, "reason_tag": "frustrated_caller",
            "note": "card 4111 1111 1111 1111 was read out"}
    bob = signed_in(app, "bob")
    assert bob.post(f"/api/calls/{cid}/disposition", json=body, headers={"X-CSRF-Token": csrf_of(bob)}).status_code == 403
    alice = signed_in(app, "alice")
    assert alice.get(f"/api/calls/{cid}").status_code == 200  # an agent sees the calls they took
    bad = alice.post(f"/api/calls/{cid}/disposition", json={**body, "reason_tag": "vibes"}, headers={"X-CSRF-Token": csrf_of(alice)})
    assert bad.status_code == 422 and bad.json()["field"] == "reason_tag"
    r = alice.post(f"/api/calls/{cid}/disposition", json=body, headers={"X-CSRF-Token": csrf_of(alice)})
    assert r.status_code == 201
    saved = store.accounts.dispositions(cid)
    assert len(saved) == 1 and saved[0]["agent"] == "alice" and saved[0]["caller_frustrated"] is True
    assert "4111 1111 1111 1111" not in saved[0]["note"]  # card numbers are masked
