"""A promised callback, placed, over real SIP/RTP with the whole service (`ivr serve`, its speech
models, its store): two callers ask for a person while nobody is signed in; the bot offers a
callback and each says yes. When the agent signs in on the desktop, the desktop pops and the
agent's phone rings first, then the caller's: one caller never answers and is tried again after
the backoff, then marked failed; the other answers, hears "This is Acme returning your call" and
is bridged with the agent. All of it shows in /api/callbacks and on the panel page."""

import asyncio
import json
import time
import urllib.request

import numpy as np
import pytest
import websockets

from telephony import EndpointConfig, SipEndpoint, TimingConfig
from voice.audio import resample
from voice.models import shared_models
from voice.wer import wer

from tests.support import free_port, running_service, tone, tone_seconds

pytestmark = pytest.mark.e2e
AGENT_HZ = 1000


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    agent_port = free_port()
    env = {"IVR_CALLBACK": json.dumps({"max_attempts": 2, "backoff_s": 1, "caller_ring_s": 3})}
    args = ["--agent", f"alice=sip:alice@127.0.0.1:{agent_port};skills=orders,billing", "--ring-timeout", "10"]
    with running_service(tmp_path_factory.mktemp("var"), *args, env=env) as svc:
        yield svc, agent_port


class Phone:
    """A caller's (or the agent's) phone: records each call it answers, plays a tone on it."""

    def __init__(self, port: int, *, hz: int = 440, answer_delay: float = 0.2, hold_s: float = 12.0):
        self.hz, self.hold_s = hz, hold_s
        self.rang: list[float] = []
        self.answered: list[float] = []
        self.heard: list[np.ndarray] = []
        self.ep = SipEndpoint(EndpointConfig("127.0.0.1", port, timing=TimingConfig(answer_delay=answer_delay)),
                              self.on_call, admit=lambda: self.rang.append(time.time()) or True)

    async def on_call(self, call):
        self.answered.append(time.time())
        call.play(tone(self.hz, 30.0).tobytes())
        stop = asyncio.get_running_loop().call_later(self.hold_s, lambda: asyncio.ensure_future(call.hangup()))
        while (f := await call.read_frame()) is not None:
            self.heard.append(np.frombuffer(f, dtype=np.int16).copy())
        stop.cancel()

    def audio(self) -> np.ndarray:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, np.int16)


async def _until(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := pred()):
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _quiet(loud_at: list, seconds: float = 1.2, timeout: float = 30.0) -> None:
    """Until the bot has stopped talking: nothing loud heard for `seconds`."""
    await _until(lambda: loud_at and time.monotonic() - loud_at[-1] >= seconds, timeout, "the bot to finish")


async def ask_for_callback(svc, phone: Phone, taken: set[str], placed: asyncio.Event | None = None,
                           before_yes: asyncio.Event | None = None) -> None:
    """Call the bot from `phone`'s endpoint, ask for a person, say yes to the callback offer.
    `taken`: the calls already made (this one is the new one, `placed` once it is known);
    `before_yes`: waited for before saying yes (the queue's order is the order of the yeses)."""
    models = shared_models()
    loud_at: list = []  # when the caller last heard the bot speak
    call = await phone.ep.invite(f"sip:support@127.0.0.1:{svc.sip}", ring_timeout=10)
    call_id = await _until(lambda: next((c["id"] for c in svc.api("/api/calls")["calls"] if c["id"] not in taken), None),
                           10, "the call in the store")
    taken.add(call_id)
    if placed is not None:
        placed.set()

    async def rec():
        while (f := await call.read_frame()) is not None:
            if np.abs(np.frombuffer(f, dtype=np.int16)).max(initial=0) > 300:
                loud_at.append(time.monotonic())

    r = asyncio.create_task(rec())
    await _until(lambda: loud_at, 30, "the greeting")
    await _quiet(loud_at)
    call.play(models.synthesize_all("I want to speak to a real person please.", 8000).tobytes())
    await _until(lambda: any(e.get("state") == "back_to_bot" for e in _events(svc, call_id)), 60, "back to the bot")
    offered = len(loud_at)
    await _until(lambda: len(loud_at) > offered + 25, 30, "the callback offer")
    await _quiet(loud_at)
    if before_yes is not None:
        await asyncio.wait_for(before_yes.wait(), 90)
    call.play(models.synthesize_all("Yes please.", 8000).tobytes())
    await asyncio.wait_for(call.ended.wait(), 60)  # the bot says goodbye and hangs up
    await r
    assert any(e.get("event") == "callback_requested" for e in _events(svc, call_id))


async def ask_both(svc, first: Phone, second: Phone) -> None:
    """Both callers at once (two calls with the bot, as in a real queue), the second placed once
    the first is in the store and saying yes once the first has hung up: `first` is queued first."""
    taken: set[str] = set()
    first_placed, first_done = asyncio.Event(), asyncio.Event()

    async def one():
        await ask_for_callback(svc, first, taken, first_placed)
        first_done.set()

    async def two():
        await first_placed.wait()
        await ask_for_callback(svc, second, taken, before_yes=first_done)

    await asyncio.gather(one(), two())


def _events(svc, call_id):
    doc = svc.api(f"/api/calls/{call_id}/events")
    return doc.get("events", doc) if isinstance(doc, dict) else doc


async def scenario(svc, agent_port):
    agent = Phone(agent_port, hz=AGENT_HZ, answer_delay=1.0, hold_s=60.0)
    deaf = Phone(free_port(), answer_delay=60.0)  # rings, never answered
    caller = Phone(free_port(), hold_s=10.0)
    popped = []
    for p in (agent, deaf, caller):
        await p.ep.start()
    url = f"ws://127.0.0.1:{svc.http}/ws/agent/alice?token={svc.tokens['alice']}"
    try:
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "presence", "state": "away"}))  # nobody can take a call

            away = asyncio.Event()

            async def desktop():
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("type") == "pop":
                        popped.append((time.time(), msg))
                    if msg.get("type") == "presence" and msg.get("state") == "away":
                        away.set()

            desk = asyncio.create_task(desktop())
            await asyncio.wait_for(away.wait(), 10)  # the desktop confirms it
            await ask_both(svc, deaf, caller)
            queued = svc.api("/api/callbacks")
            assert queued["counts"] == {"pending": 2}, queued
            assert not agent.rang  # nobody was rung while alice was away
            await ws.send(json.dumps({"type": "presence", "state": "available"}))  # alice signs in
            await _until(lambda: svc.api("/api/callbacks")["counts"].get("done") == 1 and
                         svc.api("/api/callbacks")["counts"].get("failed") == 1, 120, "done and failed")
            desk.cancel()
    finally:
        for p in (agent, deaf, caller):
            await p.ep.stop()
    return agent, deaf, caller, popped


def test_a_promised_callback_is_placed_and_one_never_answered_is_failed(service):
    svc, agent_port = service
    agent, deaf, caller, popped = asyncio.run(scenario(svc, agent_port))
    rows = {r["status"]: r for r in svc.api("/api/callbacks")["callbacks"]}
    done, failed = rows["done"], rows["failed"]
    # the one who never answered: rung twice (the backoff between), then failed
    assert (failed["attempts"], failed["last_result"]) == (2, "no_answer") and len(deaf.rang) == 2
    assert not deaf.answered and deaf.rang[1] - deaf.rang[0] >= 3 + 1 - 0.5
    # the one who answered: agent's desktop popped, agent's phone rang and was answered, then the caller's
    assert (done["attempts"], done["agent"]) == (1, "alice")
    pops = [(t, m) for t, m in popped if m.get("callback_id") == done["id"]]
    assert pops and pops[0][1]["reason"] == "callback" and pops[0][1]["summary"]
    assert pops[0][0] <= agent.answered[-1] and agent.answered[-1] < caller.rang[0]
    assert len(agent.answered) == 3  # twice for the caller who never answered, once for this one
    heard = caller.audio()
    assert tone_seconds(heard, AGENT_HZ, window_s=0.5) >= 1.0, "the caller was not bridged with the agent"
    # what the caller heard first, before the agent's tone: the company's line, in the bot's voice
    start = int(np.argmax(np.abs(heard) > 300))
    agent_at = next(i for i in range(start, len(heard), 3200) if tone_seconds(heard[i:i + 3201], AGENT_HZ) > 0)
    line = heard[start:agent_at]
    assert len(line) >= 8000, "the agent was put through before the caller heard who is calling"
    text = shared_models().transcribe_sync(resample(line, 8000, 16000)).text
    assert wer("This is Acme returning your call.", text) <= 0.35, text
    assert tone_seconds(agent.audio(), 440, window_s=0.5) >= 1.0  # and the agent heard the caller
    # the panel lists them
    req = urllib.request.Request(f"http://127.0.0.1:{svc.http}/callbacks",
                                 headers={"Authorization": f"Bearer {svc.admin_token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        page = r.read().decode()
    assert f'data-callback="{done["id"]}"' in page and f'data-callback="{failed["id"]}"' in page
