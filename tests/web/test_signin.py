"""Signing in and out (`web.routers.signin`): the session cookie, the sign-in form's own CSRF
cookie, throttling, and no open redirect after sign-in."""

from __future__ import annotations

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"


def test_anonymous_pages_go_to_sign_in_and_the_api_says_401(app):
    client = TestClient(app)
    for page in ("/live", "/policy", "/policy/history", "/dashboard", "/calls/abc", "/"):
        r = client.get(page, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), page
    for path in ("/api/calls", "/api/policy", "/api/live", "/api/metrics/summary", "/api/me"):
        assert client.get(path).status_code == 401, path
    assert client.put("/api/policy", json={}).status_code == 401


def test_sign_in_sets_a_safe_session_cookie_and_sign_out_ends_it(app, store, login, csrf_of):
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


def test_wrong_password_and_missing_login_csrf_are_refused(app, login):
    client = TestClient(app)
    r = login(client, "ada", "wrong password")
    assert r.status_code == 401 and "Wrong user name or password" in r.text and "ivr_session" not in r.headers.get("set-cookie", "")
    assert login(client, "nobody").status_code == 401
    r = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403


def test_failed_sign_ins_are_throttled_even_for_the_right_password(app, login):
    client = TestClient(app)
    for _ in range(3):
        assert login(client, "sam", "guess-guess").status_code == 401
    r = login(client, "sam")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert login(client, "ada").status_code == 303  # another user is not locked out


def test_no_open_redirect_after_sign_in(app, login):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil"):
        r = login(TestClient(app), "ada", next=target)
        assert r.headers["location"] == "/", target
