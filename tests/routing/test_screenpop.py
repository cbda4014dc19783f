"""Screen pops over a real WebSocket: uvicorn on a free loopback port, the `websockets` client."""

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from nlu.summary import Step, build_summary
from routing.agents import AgentDirectory, Presence
from web.app import create_app
from web.dependencies import DesktopDeps, WebDeps
from web.desktop import agent_token, hmac_tokens
from routing.queue import CallQueue
from routing.screenpop import ScreenPopHub, make_pop, redact_deep

SECRET = "test-secret"
PAN = "4111 1111 1111 1111"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary():
    return build_summary(
        intent="billing_dispute", intents=["billing_dispute"], entities={"amount": "$42.10", "order_number": "A1234"},
        customer={"name": "Dana Reyes", "tier": "gold", "account_id": "AC-7781"}, verified=True,
        steps=[Step("order_lookup", "A1234", "found: shipped")], frustration=[0.2, 0.5, 0.72],
        frustration_raw=[0.2, 0.55, 0.8], escalation_reason="frustration",
        transcript=[("caller", "I was charged twice"), ("bot", "Let me look"), ("caller", "my card is " + PAN)])


@pytest.fixture
async def server():
    directory = AgentDirectory(["alice=sip:alice@127.0.0.1:5090;skills=billing", "bob=sip:bob@127.0.0.1:5091"])
    hub = ScreenPopHub()
    app = create_app(WebDeps(desktop=DesktopDeps(hub, directory, hmac_tokens(SECRET))))
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                        ws="websockets-sansio"))
    task = asyncio.create_task(srv.serve())
    for _ in range(200):
        if srv.started:
            break
        await asyncio.sleep(0.01)
    assert srv.started
    yield f"127.0.0.1:{port}", hub, directory
    srv.should_exit = True
    await asyncio.wait_for(task, 5)


def ws_url(addr, agent_id, token):
    return f"ws://{addr}/ws/agent/{agent_id}" + (f"?token={token}" if token is not None else "")


async def recv(ws, timeout=2.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_pop_pushed_after_connecting_arrives_at_once(server):
    addr, hub, _ = server
    async with connect(ws_url(addr, "alice", agent_token(SECRET, "alice"))) as ws:
        hello = await recv(ws)
        assert hello["type"] == "hello" and hello["agent"]["id"] == "alice" and hello["presence"]["state"] == "available"
        assert "password" not in hello["agent"]
        ring = time.time()
        sent = time.monotonic()
        hub.pop("alice", make_pop(summary(), call_id="call-1", reason="frustration", ring_time=ring))
        msg = await recv(ws)
        assert time.monotonic() - sent < 0.5
        assert msg["type"] == "pop" and msg["call_id"] == "call-1" and msg["reason"] == "frustration"
        assert msg["ring_time"] == ring and msg["ring_time_iso"].endswith("Z")
        s = msg["summary"]
        assert s["intent"] == "billing_dispute" and s["frustration"] == [0.2, 0.5, 0.72]
        assert s["entities"]["order_number"] == "A1234" and s["paragraph"].startswith("Dana Reyes")
        assert s["transcript"][-1] == {"speaker": "caller", "text": "my card is [card number]"}
        hub.transcript("alice", "call-1", "caller", "the number is " + PAN)
        line = await recv(ws)
        assert line == {"type": "transcript", "call_id": "call-1", "speaker": "caller",
                        "text": "the number is [card number]", "at": line["at"]}


async def test_pop_pushed_before_connecting_is_delivered_on_connect(server):
    addr, hub, _ = server
    hub.pop("alice", make_pop(summary(), call_id="early", reason="frustration"))
    hub.transcript("alice", "early", "caller", "hello?")
    assert not hub.connected("alice") and len(hub.pending("alice")) == 2
    async with connect(ws_url(addr, "alice", agent_token(SECRET, "alice"))) as ws:
        assert (await recv(ws))["type"] == "hello"
        pop = await recv(ws)
        assert pop["type"] == "pop" and pop["call_id"] == "early"
        assert (await recv(ws))["text"] == "hello?"
        assert hub.connected("alice") and hub.pending("alice") == []


@pytest.mark.parametrize("agent_id,token", [("alice", agent_token(SECRET, "bob")), ("alice", None), ("alice", ""),
                                            ("alice", "0" * 32), ("mallory", agent_token(SECRET, "mallory"))])
async def test_wrong_or_missing_token_is_refused_with_1008(server, agent_id, token):
    addr, hub, _ = server
    hub.pop("alice", make_pop(summary(), call_id="secret-call"))
    async with connect(ws_url(addr, agent_id, token)) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
    assert info.value.rcvd.code == 1008
    assert [m["call_id"] for m in hub.pending("alice")] == ["secret-call"]  # still waiting for alice


async def test_presence_from_the_desktop(server):
    addr, hub, directory = server
    queue = CallQueue(directory)
    try:
        async with connect(ws_url(addr, "alice", agent_token(SECRET, "alice"))) as ws:
            await recv(ws)
            await ws.send(json.dumps({"type": "presence", "state": "away"}))
            update = await recv(ws)
            assert update["type"] == "presence" and update["state"] == "away"
            assert directory.presence("alice") is Presence.AWAY
            await ws.send(json.dumps({"type": "presence", "state": "on_call"}))
            assert (await recv(ws))["type"] == "error"
            # a caller waits for billing; alice coming back from away wakes them, and her phone rings
            d_bob = directory.presence("bob")
            assert d_bob is Presence.AVAILABLE
            waiting = asyncio.create_task(queue.wait_for_agent("c9", "billing", timeout=3))
            await asyncio.sleep(0.01)
            assert not waiting.done()
            await ws.send(json.dumps({"type": "presence", "state": "available"}))
            assert (await waiting).id == "alice"
            states = [(await recv(ws))["state"], (await recv(ws))["state"]]
            assert states == ["available", "ringing"]
            # while ringing she cannot go away from the desktop
            await ws.send(json.dumps({"type": "presence", "state": "away"}))
            err = await recv(ws)
            assert err["type"] == "error" and err["presence"]["state"] == "ringing"
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv(ws)) == {"type": "pong"}
    finally:
        queue.close()


async def test_two_desktops_of_one_agent_both_get_the_pop_and_others_do_not(server):
    addr, hub, _ = server
    async with connect(ws_url(addr, "alice", agent_token(SECRET, "alice"))) as one, \
            connect(ws_url(addr, "alice", agent_token(SECRET, "alice"))) as two, \
            connect(ws_url(addr, "bob", agent_token(SECRET, "bob"))) as bob:
        for ws in (one, two, bob):
            await recv(ws)
        hub.pop("alice", make_pop(summary(), call_id="c2"))
        assert (await recv(one))["call_id"] == "c2" and (await recv(two))["call_id"] == "c2"
        with pytest.raises(asyncio.TimeoutError):
            await recv(bob, timeout=0.1)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


async def test_desktop_page(server):
    addr, _, _ = server
    status, headers, body = await asyncio.to_thread(_get, f"http://{addr}/desktop/alice?token={agent_token(SECRET, 'alice')}")
    assert status == 200 and "text/html" in headers["content-type"]
    assert "new WebSocket(" in body and "/ws/agent/" in body and "{{NONCE}}" not in body
    nonce = headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in body and headers["referrer-policy"] == "no-referrer"
    status, _, body = await asyncio.to_thread(_get, f"http://{addr}/desktop/alice?token={agent_token(SECRET, 'bob')}")
    assert status == 403 and "WebSocket" not in body


# ---- the hub alone -------------------------------------------------------------------------------------------
def test_defensive_redaction_of_every_text_field():
    pop = ScreenPopHub().pop("alice", {"call_id": "4111111111111111111", "reason": "x",
                                       "summary": {"paragraph": "card " + PAN, "entities": {"pan": 4111111111111111,
                                                                                            "card": "4111-1111-1111-1111"},
                                                   "steps": [{"detail": "four one one one " * 4}], "frustration": [0.5]}})
    s = pop["summary"]
    assert PAN not in json.dumps(pop) and "1111" not in json.dumps(s)
    assert s["entities"] == {"pan": "[card number]", "card": "[card number]"} and s["frustration"] == [0.5]
    assert pop["call_id"] == "4111111111111111111"  # identifiers are not mangled
    assert redact_deep({"call_id": PAN, "text": PAN}) == {"call_id": PAN, "text": "[card number]"}


def test_the_pop_carries_the_per_turn_trajectory_untouched():
    parts = [{"text": 0.2, "prosody": 0.1, "dialogue": 0.0, "bias": -3.0},
             {"text": 0.3, "prosody": 1.9, "dialogue": 0.2, "bias": -3.0},
             {"text": 0.1, "prosody": 0.4, "dialogue": 1.5, "bias": -3.0}]
    s = build_summary(intent="order_status", intents=["order_status"], entities={}, customer=None, verified=False,
                      steps=[], frustration=[0.2, 0.5, 0.72], frustration_raw=[0.2, 0.55, 0.8],
                      escalation_reason="frustration", transcript=[], frustration_parts=parts)
    pop = ScreenPopHub().pop("alice", {"type": "screen_pop", "call_id": "c", "reason": "frustration",
                                       "ringing_since": 1.0, **s.to_dict()})
    traj = pop["summary"]["trajectory"]
    assert [(t["score"], t["smoothed"], t["drove"]) for t in traj] == [
        (0.2, 0.2, "words"), (0.55, 0.5, "voice"), (0.8, 0.72, "dialogue")]
    assert [t["parts"] for t in traj] == parts


def test_flat_payload_is_split_into_summary_and_call_fields():
    pop = ScreenPopHub().pop("a", {"call_id": "c", "reason": "dtmf", "ring_time": 5.0, "paragraph": "p", "intent": "i"})
    assert pop["summary"] == {"paragraph": "p", "intent": "i"} and pop["ring_time_iso"] == "1970-01-01T00:00:05.000Z"


def test_the_warm_transfer_payload_shape_is_understood():
    pop = ScreenPopHub().pop("a", {"type": "screen_pop", "call_id": "c", "reason": "frustration", "ringing_since": 7.5,
                                   **summary().to_dict()})
    assert pop["type"] == "pop" and pop["ring_time"] == 7.5 and pop["reason"] == "frustration"
    assert pop["summary"]["intent"] == "billing_dispute" and "ringing_since" not in pop["summary"]
    assert pop["summary"]["transcript"][-1]["text"] == "my card is [card number]"


def test_pending_is_bounded_and_expires():
    clock = [0.0]
    hub = ScreenPopHub(backlog=3, pending_ttl=60, clock=lambda: clock[0])
    for i in range(5):
        hub.pop("a", {"call_id": f"c{i}", "summary": {}})
    assert [m["call_id"] for m in hub.pending("a")] == ["c2", "c3", "c4"]
    clock[0] = 61
    hub.pop("a", {"call_id": "c5", "summary": {}})
    assert [m["call_id"] for m in hub.pending("a")] == ["c5"]


async def test_unsent_messages_survive_a_dropped_connection():
    hub = ScreenPopHub()
    conn = hub.connect("a")
    hub.pop("a", {"call_id": "c1", "summary": {}})
    hub.presence("a", {"state": "away"})
    hub.pop("a", {"call_id": "c2", "summary": {}})
    first = await conn.get()
    conn.put_back(first)  # the socket failed while sending it
    hub.disconnect(conn)
    assert [m["call_id"] for m in hub.pending("a")] == ["c1", "c2"]
    again = hub.connect("a")
    assert (await again.get())["call_id"] == "c1" and (await again.get())["call_id"] == "c2"


async def test_slow_desktop_is_cut_off():
    hub = ScreenPopHub(max_buffer=2)
    conn = hub.connect("a")
    for i in range(3):
        hub.transcript("a", "c", "caller", f"line {i}")
    assert conn.closed and not hub.connected("a")
    assert [(await conn.get())["text"] for _ in range(2)] == ["line 0", "line 1"] and await conn.get() is None
