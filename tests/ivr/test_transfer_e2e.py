"""The whole story over real SIP/RTP and a real WebSocket: a caller asks for a person, the agent's
desktop pops while the agent's phone rings, the agent hears the whisper, then caller and agent
talk through the bridge, and the store has it all."""

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
import websockets

from telephony import SipEndpoint
from voice.models import shared_models

pytestmark = pytest.mark.e2e


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tone(hz, seconds, amp=8000):
    t = np.arange(int(8000 * seconds)) / 8000
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def has_tone(pcm, hz):
    for i in range(0, max(0, len(pcm) - 4000), 2000):
        seg = pcm[i : i + 4000].astype(float)
        if np.sqrt(np.mean(seg**2)) < 500:
            continue
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        if abs(np.fft.rfftfreq(len(seg), 1 / 8000)[int(np.argmax(spec))] - hz) < 30:
            return True
    return False


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    sip, http, agent_port = free_port(), free_port(socket.SOCK_STREAM), free_port()
    var = tmp_path_factory.mktemp("var")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve", "--sip", f"127.0.0.1:{sip}", "--http", f"127.0.0.1:{http}",
         "--db", f"sqlite:///{var}/ivr.db", "--company-db", str(var / "company.db"),
         "--agent", f"alice=sip:alice@127.0.0.1:{agent_port};skills=orders,billing", "--ring-timeout", "10",
         "--survey"],
        stderr=subprocess.PIPE, text=True,
    )
    token = None
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        m = re.search(r"agent alice desktop: \S+token=(\S+)", line)
        if m:
            token = m.group(1)
        if "ivr: ready" in line:
            break
        assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    yield {"sip": sip, "http": http, "agent_port": agent_port, "token": token}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def api(service, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{service['http']}{path}", timeout=5) as r:
        return json.loads(r.read())


async def scenario(service):
    models = shared_models()
    agent_heard, caller_heard, headers, popped, answered_at, lines = [], [], [], [], [], []

    async def agent_phone(call):
        answered_at.append(time.time())
        headers.append({k.lower(): v for k, v in call.headers.items()} if hasattr(call.headers, "items") else call.headers)

        async def rec():
            while (f := await call.read_frame()) is not None:
                agent_heard.append(np.frombuffer(f, dtype=np.int16).copy())

        r = asyncio.create_task(rec())
        await asyncio.sleep(12.5)  # the whisper plays first (several seconds); then the agent talks
        call.play(tone(1000, 1.5).tobytes())
        await asyncio.sleep(8.0)
        await call.hangup()  # the agent is done; the caller is asked to rate the call
        await r

    agent = SipEndpoint("127.0.0.1", service["agent_port"], agent_phone, answer_delay=1.5)
    caller_ep = SipEndpoint("127.0.0.1", 0, lambda c: asyncio.sleep(0))
    await agent.start()
    await caller_ep.start()
    url = f"ws://127.0.0.1:{service['http']}/ws/agent/alice?token={service['token']}"
    try:
        async with websockets.connect(url) as ws:
            async def desktop():
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("type") in ("screen_pop", "pop"):
                        popped.append((time.time(), msg))
                    if msg.get("type") == "transcript":
                        lines.append(msg)

            desk = asyncio.create_task(desktop())
            call = await caller_ep.invite(f"sip:support@127.0.0.1:{service['sip']}", ring_timeout=10)

            async def rec():
                while (f := await call.read_frame()) is not None:
                    caller_heard.append(np.frombuffer(f, dtype=np.int16).copy())

            r = asyncio.create_task(rec())
            await asyncio.sleep(7.0)
            call.play(models.synthesize_all("I want to speak to a real person please.", 8000).tobytes())
            # Wait until bridged (the agent answered and the whisper played), then talk to the agent.
            for _ in range(300):
                if answered_at and time.time() - answered_at[0] > 11:
                    break
                await asyncio.sleep(0.1)
            call.play(tone(440, 1.5).tobytes())
            await asyncio.sleep(2.0)
            call.play(models.synthesize_all("My parcel never arrived and I need it this week.", 8000).tobytes())
            # The agent hangs up ~21 s after answering; the survey prompt follows; press 4.
            while time.time() - answered_at[0] < 25.5:
                await asyncio.sleep(0.1)
            call.send_dtmf("4")
            await asyncio.wait_for(call.ended.wait(), 20)
            await asyncio.wait_for(r, 10)
            desk.cancel()
    finally:
        await caller_ep.stop()
        await agent.stop()
    return agent_heard, caller_heard, headers, popped, answered_at, lines, call.end_reason


def test_caller_asks_for_a_person_and_is_warm_transferred(service):
    agent_heard, caller_heard, headers, popped, answered_at, lines, end_reason = asyncio.run(scenario(service))
    # The agent's phone rang with the summary in SIP headers.
    assert headers and headers[0].get("x-ivr-reason") == "explicit_request" and headers[0].get("x-ivr-summary")
    # The desktop popped (with transcript, intent and reason) before the agent picked up.
    assert popped, "no screen pop"
    t_pop, pop = popped[0]
    payload = json.dumps(pop)
    assert "explicit_request" in payload and "transcript" in payload and "speak to a real person" in payload.lower()
    assert t_pop < answered_at[0]
    agent = np.concatenate(agent_heard)
    caller = np.concatenate(caller_heard)
    # The agent heard the whisper (speech) and then the caller's 440 Hz; the caller heard the agent's 1000 Hz.
    assert np.sqrt(np.mean(agent[: 4 * 8000].astype(float) ** 2)) > 300
    assert has_tone(agent, 440)
    assert has_tone(caller, 1000)
    call = api(service, f"/api/calls/{api(service, '/api/calls')['calls'][0]['id']}")
    assert call["escalation_reason"] == "explicit_request" and call["agent"]
    assert call["outcome"] == "transferred"
    assert any(a["result"] == "answered" for a in call["transfer_attempts"])
    # After the bridge the caller kept being transcribed, live, to the agent's desktop.
    assert any(line["speaker"] == "caller" and "arrived" in line["text"].lower() for line in lines), lines
    # The agent hung up; the caller rated the call 4 by DTMF, and the service then hung up.
    assert end_reason == "remote_bye"
    assert "4" in json.dumps(call.get("survey"))
