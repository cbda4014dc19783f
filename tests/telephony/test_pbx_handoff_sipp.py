"""The hand-off to a company PBX's queue against real peers on loopback: our endpoint calls the bot,
the bot's transfer INVITEs sipp playing the PBX's queue (tests/telephony/sipp/pbx_queue.xml, which
fails the call unless User-to-User and Call-Info are there), and the PBX's webhook goes through the
real web app served by uvicorn. Asterisk itself is `make interop` (scripts/interop/)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from routing.agents import AgentDirectory
from routing.pbx_handoff import PbxHandoffConfig, decode_uui, uui_fields
from routing.screenpop import ScreenPopHub
from routing.transfer import TransferConfig, WarmTransfer
from telephony import EndpointConfig, SipEndpoint, TimingConfig
from tests.telephony.conftest import FAST
from tests.telephony.test_endpoint_sipp import free_port
from web.app import create_app
from web.dependencies import DesktopDeps, WebDeps

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed")]
SCENARIO = Path(__file__).parent / "sipp" / "pbx_queue.xml"
TOKEN = "pbx-test-token"
SUMMARY = {"intent": "card_stolen", "paragraph": "Stolen card 4111 1111 1111 1111, caller upset."}


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


async def call(method: str, url: str, body=None, headers=None):
    return await asyncio.to_thread(http, method, url, body, headers)  # the web app runs on this loop


@pytest.fixture
async def rig(tmp_path, monkeypatch):
    import uvicorn

    monkeypatch.setenv("IVR_PBX_TOKEN", TOKEN)
    hub, web_port, queue_port = ScreenPopHub(), free_port(), free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(WebDeps(desktop=DesktopDeps(hub, AgentDirectory([]), lambda a: None))),
                                           host="127.0.0.1", port=web_port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    sipp = subprocess.Popen(["sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(queue_port), "-mp",
                             str(free_port()), "-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin", "-nd",
                             "-trace_logs", "-trace_err"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    events: list = []
    seen: dict[str, asyncio.Event] = {s: asyncio.Event() for s in ("bridged", "back_to_bot")}
    pbx = PbxHandoffConfig(queue_uri=f"sip:support@127.0.0.1:{queue_port}", public_url=f"http://127.0.0.1:{web_port}",
                           ring_timeout_s=10)

    async def silence(_text):
        return np.zeros(800, np.int16)

    def on_event(ev):
        events.append(ev)
        if getattr(ev, "state", None) in seen:
            seen[ev.state].set()

    async def on_call(c):
        await WarmTransfer(c, c.call_id, dict(SUMMARY), "frustration", invite=bot.invite, agents=None, desktop=hub,
                           speak=silence, on_event=on_event, config=TransferConfig(pbx=pbx)).run()

    # fast SIP timers: an INVITE nobody answers gives up (Timer B, 64·T1) in about a second
    bot = SipEndpoint(EndpointConfig(host="127.0.0.1", port=0, timing=TimingConfig(FAST)), on_call)
    phone = SipEndpoint(EndpointConfig(host="127.0.0.1", port=0, user="caller"), lambda c: asyncio.sleep(0))
    await bot.start()
    await phone.start()
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield type("Rig", (), dict(hub=hub, web=f"http://127.0.0.1:{web_port}", sipp=sipp, events=events,
                                   seen=seen, bot=bot, phone=phone, tmp=tmp_path))
    finally:
        if sipp.poll() is None:
            sipp.kill()
        await phone.stop()
        await bot.stop()
        server.should_exit = True
        await serving


def sipp_logged(tmp: Path, key: str) -> str:
    text = "".join(f.read_text(errors="replace") for f in tmp.glob("*_logs.log"))
    m = re.search(rf"^{key} (\S+)", text, re.M)
    assert m, f"sipp logged no {key}: {text!r}"
    return m.group(1)


async def test_bot_hands_the_call_to_the_pbx_queue_with_uui_call_info_and_the_webhook_pops(rig):
    caller = await rig.phone.invite(f"sip:bot@127.0.0.1:{rig.bot.port}", ring_timeout=5)
    await asyncio.wait_for(rig.seen["bridged"].wait(), 10)
    uui = sipp_logged(rig.tmp, "UUI")
    fields = uui_fields(decode_uui(uui + ";encoding=hex")[0])
    call_id = fields["cid"]
    assert fields["i"] == "card_stolen" and fields["r"] == "frustration"
    url = sipp_logged(rig.tmp, "CALLINFO")
    assert url.startswith(f"{rig.web}/api/pbx/pop/")

    desk = rig.hub.connect("a7")
    hook = f"{rig.web}/api/pbx/answered"
    body = json.dumps({"agent_id": "a7", "call_id": call_id}).encode()
    json_h = {"content-type": "application/json"}
    assert (await call("POST", hook, body, json_h))[0] == 401
    assert (await call("POST", hook, body, {**json_h, "authorization": "Bearer wrong"}))[0] == 401
    auth = {"authorization": f"Bearer {TOKEN}"}
    status, answer = await call("POST", hook, body, {**json_h, **auth})
    assert status == 200 and answer["connected"] is True
    pop = await asyncio.wait_for(desk.get(), 2)
    assert pop["call_id"] == call_id and pop["agent_id"] == "a7"
    assert "4111" not in json.dumps(pop) and pop["summary"]["intent"] == "card_stolen"

    # Asterisk's CURL() posts a form, passing on the UUI it received instead of our call id
    form = f"agent_id=a7&uui={uui};encoding=hex;purpose=isdn-uui".encode()
    status, _ = await call("POST", hook, form, {**auth, "content-type": "application/x-www-form-urlencoded"})
    assert status == 200 and (await asyncio.wait_for(desk.get(), 2))["call_id"] == call_id
    assert (await call("POST", hook, json.dumps({"agent_id": "a7", "call_id": "nope"}).encode(), {**json_h, **auth}))[0] == 404
    status, problem = await call("POST", hook, b'{"agent_id": "a 7"}', {**json_h, **auth})
    assert status == 422, problem
    assert (await call("POST", hook, b"{not json", {**json_h, **auth}))[0] in (400, 422)

    status, shown = await call("GET", url)
    assert status == 200 and shown["call_id"] == call_id and "4111" not in json.dumps(shown)
    assert (await call("GET", url[: url.index("sig=") + 4] + "0" * 32))[0] == 403

    await caller.hangup()  # the bridge ends: the queue's leg gets its BYE, and sipp's scenario completes
    assert await asyncio.to_thread(rig.sipp.wait, 15) == 0
    states = [e.state for e in rig.events if hasattr(e, "state")]
    assert states == ["hold", "ringing", "bridged", "done"]


async def test_webhook_is_off_without_a_token(rig, monkeypatch):
    monkeypatch.delenv("IVR_PBX_TOKEN")
    status, problem = await call("POST", f"{rig.web}/api/pbx/answered", b'{"agent_id": "a", "call_id": "c"}',
                                 {"content-type": "application/json", "authorization": "Bearer "})
    assert status == 503 and "IVR_PBX_TOKEN" in json.dumps(problem)


async def test_a_queue_that_refuses_sends_the_caller_back_to_the_bot(rig):
    rig.sipp.kill()  # nobody at the queue's port: the INVITE times out or is refused
    rig.sipp.wait()
    caller = await rig.phone.invite(f"sip:bot@127.0.0.1:{rig.bot.port}", ring_timeout=5)
    await asyncio.wait_for(rig.seen["back_to_bot"].wait(), 10)
    assert not rig.seen["bridged"].is_set()
    assert any(getattr(e, "result", None) == "failed" for e in rig.events)
    await caller.hangup()
