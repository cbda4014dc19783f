"""Who may do what (`web.auth`): argon2id passwords, the sign-in throttle, the admin bearer token
(never logged, never implied by the client's address), roles, and CSRF on cookie-signed changes."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.websockets import WebSocketDisconnect

from web.auth import LoginThrottle, hash_password, verify_password

PASSWORD = "correct horse battery"


def test_passwords_are_argon2id_and_verify_only_themselves():
    h = hash_password(PASSWORD)
    assert h.startswith("$argon2id$") and PASSWORD not in h
    assert verify_password(h, PASSWORD) and not verify_password(h, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    with pytest.raises(ValueError):
        hash_password("short")


def test_throttle_window_slides():
    now = [0.0]
    t = LoginThrottle(2, 10.0, clock=lambda: now[0])
    t.failed("k"), t.failed("k")
    assert t.retry_after("k") == pytest.approx(10.0)
    now[0] = 10.5
    assert t.retry_after("k") == 0.0


def test_token_required(api, store, bearer, admin_token):
    assert api.get("/api/calls").status_code == 401
    r = api.get("/api/policy", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert admin_token not in r.text
    assert api.put("/api/policy", json=store.current_policy()[1].to_dict()).status_code == 401
    assert api.get("/api/calls", headers={"Authorization": admin_token}).status_code == 401  # no scheme
    assert api.get("/api/calls", headers=bearer).status_code == 200
    assert store.current_policy()[0] == 1


def test_token_from_the_environment(store, monkeypatch, make_client):
    monkeypatch.setenv("IVR_ADMIN_TOKEN", "from-env")
    client = make_client(None, client=("127.0.0.1", 40000))  # loopback is not enough then
    assert client.get("/api/calls").status_code == 401
    assert client.get("/api/calls", headers={"Authorization": "Bearer from-env"}).status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "10.1.2.3"])
def test_anonymous_is_refused_from_anywhere(store, monkeypatch, host, make_client):
    monkeypatch.delenv("IVR_ADMIN_TOKEN", raising=False)
    client = make_client(None, client=(host, 40000))
    assert client.get("/api/calls").status_code == 401
    assert client.get("/api/policy").status_code == 401


def test_the_token_is_never_logged(store, monkeypatch, caplog, bearer, admin_token, make_client):
    monkeypatch.delenv("IVR_ADMIN_TOKEN", raising=False)
    caplog.set_level(logging.DEBUG)
    api = make_client(admin_token)
    api.get("/api/calls", headers={"Authorization": "Bearer nope"})
    doc = api.get("/api/policy", headers=bearer).json()
    api.put("/api/policy", json={**doc, "max_no_match": 4}, headers=bearer)
    assert caplog.records and admin_token not in caplog.text


def test_an_agent_gets_403_on_policy_and_on_others_screen_pops(app, signed_in):
    alice = signed_in("alice")
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


def test_a_supervisor_watches_but_does_not_change_the_policy(app, store, signed_in):
    sam = signed_in("sam")
    assert sam.get("/api/policy").status_code == 200
    assert sam.get("/live").status_code == 200 and sam.get("/dashboard").status_code == 200
    page = sam.get("/policy")
    assert page.status_code == 200 and "disabled" in page.text and 'id="save"' not in page.text
    csrf = re.search(r'name="csrf-token" content="([^"]*)"', page.text).group(1)
    assert sam.put("/api/policy", json=store.current_policy()[1].to_dict(), headers={"X-CSRF-Token": csrf}).status_code == 403
    assert sam.post("/policy", data={"csrf": csrf}).status_code == 403
    assert sam.get("/desktop/bob").status_code == 200  # supervisors may watch any desktop
    assert store.current_policy()[0] == 1


def test_cookie_signed_changes_need_the_csrf_token(app, store, signed_in, csrf_of):
    ada = signed_in("ada")
    doc = store.current_policy()[1].to_dict()
    doc["max_no_match"] = 4
    assert ada.put("/api/policy", json=doc).status_code == 403
    assert ada.put("/api/policy", json=doc, headers={"X-CSRF-Token": "nope"}).status_code == 403
    csrf = csrf_of(ada)
    assert ada.put("/api/policy", json=doc, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"}).status_code == 403
    assert store.current_policy()[0] == 1
    r = ada.put("/api/policy", json=doc, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["max_no_match"] == 4
