"""`POST /desktop/{agent}/handback` (`web.routers.desktop`): who may hand a caller back, the
CSRF check of a signed-in agent, and the refusal of a call that is not bridged to them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from routing.agents import AgentDirectory, load_agents
from routing.screenpop import ScreenPopHub
from web.auth import Auth
from web.dependencies import DesktopDeps
from web.desktop import token_map

from tests.web.conftest import web_app


class Desk:
    """What the contact centre's HandbackDesk.request answers, and what it was asked."""

    def __init__(self, bridged: dict[str, str]):
        self.bridged, self.asked = bridged, []

    def request(self, agent_id: str, call_id: str) -> str | None:
        if self.bridged.get(agent_id) != call_id:
            return f"no call {call_id!r} bridged to {agent_id} now"
        self.asked.append((agent_id, call_id))
        return None


@pytest.fixture
def desk():
    return Desk({"alice": "call-1"})


@pytest.fixture
def app(users, desk, monkeypatch):
    monkeypatch.delenv("IVR_ADMIN_TOKEN", raising=False)
    directory = AgentDirectory(load_agents(["alice=sip:alice@127.0.0.1:5999;name=Alice Smith",
                                            "bob=sip:bob@127.0.0.1:5998"]))
    deps = DesktopDeps(ScreenPopHub(), directory, token_map({"alice": "tok-a", "bob": "tok-b"}), on_handback=desk.request)
    return web_app(users, auth=Auth(users.accounts), desktop=deps)


def test_with_the_agents_link_token(app, desk):
    client = TestClient(app)
    r = client.post("/desktop/alice/handback?token=tok-a", json={"call_id": "call-1"})
    assert r.status_code == 202 and r.json() == {"call_id": "call-1", "handed_back": True, "flow": "survey"}
    assert desk.asked == [("alice", "call-1")]
    r = client.post("/desktop/alice/handback?token=tok-a", json={"call_id": "call-9"})
    assert r.status_code == 409 and r.json() == {"detail": "no call 'call-9' bridged to alice now", "field": "call_id"}


def test_refusals_are_clear(app, desk):
    client = TestClient(app)
    assert client.post("/desktop/alice/handback?token=tok-b", json={"call_id": "call-1"}).status_code == 403
    assert client.post("/desktop/alice/handback", json={"call_id": "call-1"}).status_code == 403  # nobody signed in
    assert client.post("/desktop/carol/handback?token=tok-a", json={"call_id": "call-1"}).status_code == 403
    bad = client.post("/desktop/alice/handback?token=tok-a", json={"call_id": "call-1", "flow": "upsell"})
    assert bad.status_code == 422 and "flow" in bad.text
    assert client.post("/desktop/alice/handback?token=tok-a", content=b"not json",
                       headers={"content-type": "application/json"}).status_code == 422
    assert desk.asked == []


def test_a_signed_in_agent_needs_the_pages_csrf_token(app, desk, signed_in):
    alice = signed_in("alice")
    page = alice.get("/desktop/alice")
    csrf = re.search(r'<meta name="csrf" content="([^"]+)">', page.text).group(1)
    assert alice.post("/desktop/alice/handback", json={"call_id": "call-1"}).status_code == 403
    assert alice.post("/desktop/alice/handback", json={"call_id": "call-1"},
                      headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert desk.asked == []
    r = alice.post("/desktop/alice/handback", json={"call_id": "call-1"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 202 and desk.asked == [("alice", "call-1")]
    assert signed_in("bob").post("/desktop/alice/handback", json={"call_id": "call-1"},
                                 headers={"X-CSRF-Token": csrf}).status_code == 403  # not bob's call


def test_the_page_of_a_token_link_carries_no_csrf_and_the_button_block(app):
    page = TestClient(app).get("/desktop/alice?token=tok-a").text
    assert '<meta name="csrf" content="">' in page and 'id="handback-button"' in page and "{{" not in page
