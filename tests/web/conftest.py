"""The web tests' fixtures: a SQLite store in a temporary file, the app `web.app.create_app`
builds over it (FastAPI's TestClient), its users, and helpers to sign in and fill the panel's forms."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from routing.agents import AgentDirectory, load_agents
from routing.screenpop import ScreenPopHub
from store import Store
from web.app import create_app
from web.auth import Auth, LoginThrottle, hash_password
from web.dependencies import DesktopDeps, WebDeps
from web.desktop import token_map

TOKEN = "s3cret-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "correct horse battery"


def web_app(store: Store, *, token: str | None = None, auth: Auth | None = None,
            desktop: DesktopDeps | None = None) -> FastAPI:
    """The app over ``store``: API and panel behind ``auth`` (default: the admin ``token``)."""
    return create_app(WebDeps(store=store, auth=auth or Auth(store.accounts, admin_token=token), desktop=desktop))


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path}/web.db")
    yield s
    s.close()


@pytest.fixture
def make_client(store) -> Callable[..., TestClient]:
    """``make_client(token, client=(host, port))``: a TestClient of the API with that admin token."""

    def make(token: str | None, client=("testclient", 50000)) -> TestClient:
        return TestClient(web_app(store, token=token), client=client)

    return make


@pytest.fixture
def api(make_client, monkeypatch) -> TestClient:
    """The API, scripts' way in: ``AUTH`` (the admin bearer token) on each request."""
    monkeypatch.delenv("IVR_ADMIN_TOKEN", raising=False)
    return make_client(TOKEN)


@pytest.fixture
def users(store) -> Store:
    """The store with an admin (ada), a supervisor (sam) and two agents (alice, bob)."""
    for name, role in (("ada", "admin"), ("sam", "supervisor"), ("alice", "agent"), ("bob", "agent")):
        store.accounts.add_user(name, role, hash_password(PASSWORD))
    return store


@pytest.fixture
def app(users, monkeypatch) -> FastAPI:
    """The whole app as people use it: panel, API and the agents' desktops, sign-in throttled at 3."""
    monkeypatch.delenv("IVR_ADMIN_TOKEN", raising=False)
    auth = Auth(users.accounts, per_user=LoginThrottle(3, 60.0))
    directory = AgentDirectory(load_agents(["alice=sip:alice@127.0.0.1:5999", "bob=sip:bob@127.0.0.1:5998"]))
    return web_app(users, auth=auth, desktop=DesktopDeps(ScreenPopHub(), directory, token_map({})))


def _login(client: TestClient, name: str, password: str = PASSWORD, next: str = "/"):
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf": csrf, "next": next},
                       follow_redirects=False)


def _csrf_of(client: TestClient) -> str:
    return client.get("/api/me").json()["csrf"]


def _policy_form(client: TestClient, **changes) -> dict:
    page = client.get("/policy").text
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


@pytest.fixture
def admin_token() -> str:
    return TOKEN


@pytest.fixture
def bearer() -> dict[str, str]:
    """The admin token's header, as scripts send it."""
    return dict(AUTH)


@pytest.fixture
def login():
    """``login(client, name, password=PASSWORD, next="/")``: the sign-in form, filled and posted."""
    return _login


@pytest.fixture
def csrf_of():
    """``csrf_of(client)``: the signed-in session's CSRF token (from /api/me)."""
    return _csrf_of


@pytest.fixture
def policy_form():
    """``policy_form(client, **changes)``: the policy page's form as the browser sends it, changed."""
    return _policy_form


@pytest.fixture
def signed_in(app) -> Callable[[str], TestClient]:
    """``signed_in("ada")``: a TestClient of ``app`` with ada's session cookie."""

    def sign_in(name: str) -> TestClient:
        client = TestClient(app)
        r = _login(client, name)
        assert r.status_code == 303, r.text
        return client

    return sign_in


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


def _transferred_call(store: Store, t0: datetime, scores: list[float]) -> str:
    cid = store.call_started(None, "+15550001111", t0)
    for i, s in enumerate(scores):
        store.record_event(cid, {"event": "turn", "index": i, "start": i * 5.0, "end": i * 5.0 + 2, "text": f"turn {i}",
                                 "intent": "order_status", "frustration": {"score": s, "smoothed": s},
                                 "signals": {"no_match": 0, "no_input": 0, "bot_seconds": i * 5.0}})
    return cid


@pytest.fixture
def add_calls():
    """``add_calls(store)``: a transferred call (with a turn, a decision, a summary and an answered
    attempt) and one still going; their ids, oldest first."""
    return _add_calls


@pytest.fixture
def transferred_call():
    """``transferred_call(store, t0, scores)``: a call with one caller turn per frustration score."""
    return _transferred_call
