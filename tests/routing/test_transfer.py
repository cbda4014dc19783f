"""Warm transfer over real SIP/RTP on loopback: three of the project's own user agents play the
caller's phone, the service and the agent's phone. The agent pool and the desktop are small fakes."""

import asyncio
from dataclasses import dataclass

import numpy as np

from calls.events import TransferAttemptEvent, TransferEvent
from routing.hold_audio import hold_loop, longest_silence_s
from routing.transfer import State, TransferConfig, WarmTransfer, summary_headers
from telephony import AdmissionConfig, EndpointConfig, SipEndpoint, TimingConfig

SUMMARY = {"paragraph": "Alice Johnson called about an order. Frustration rising. Transferred because she asked for a person.",
           "intent": "order_status"}


def tone(hz, seconds, amp=8000):
    t = np.arange(int(8000 * seconds)) / 8000
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def dominant_hz(pcm):
    spec = np.abs(np.fft.rfft(pcm.astype(float) * np.hanning(len(pcm))))
    return np.fft.rfftfreq(len(pcm), 1 / 8000)[int(np.argmax(spec))]


@dataclass
class FakeAgent:
    id: str
    contact: str


class Pool:
    def __init__(self, agents):
        self.free = list(agents)
        self.released = []

    async def acquire(self, skill, exclude, timeout):
        for a in self.free:
            if a.id not in exclude:
                self.free.remove(a)
                return a
        return None

    def release(self, agent, state):
        self.released.append((agent.id, state))


class Desk:
    def __init__(self):
        self.pops, self.lines = [], []

    def pop(self, agent_id, payload):
        self.pops.append((agent_id, payload))

    def transcript(self, agent_id, call_id, speaker, text):
        self.lines.append((speaker, text))


async def record(call, into):
    while (f := await call.read_frame()) is not None:
        into.append(np.frombuffer(f, dtype=np.int16).copy())


async def scenario(agent_behaviour, *, caller_hangs_up_after=None, ring_timeout=3.0, refer=False, cancels=None,
                   probe=None, answer_delay=0.0):
    """Returns (result, events, desk, pool, caller_heard, agent_heard, agent_headers); `cancels`
    collects the CANCELs the agent's phone receives; `probe` (a dict) gets "spoken" (text,
    loop time) for each whisper synthesized and "answered" (loop time) for the agent's phone."""
    probe = {} if probe is None else probe
    agent_heard, caller_heard, agent_headers, events = [], [], [], []
    service_calls: asyncio.Queue = asyncio.Queue()

    async def agent_phone(call):
        probe.setdefault("answered", []).append(asyncio.get_running_loop().time())
        agent_headers.append(dict(call.headers.items()) if hasattr(call.headers, "items") else call.headers)
        rec = asyncio.create_task(record(call, agent_heard))
        if getattr(call, "replaced", False) or agent_behaviour == "refer":
            await call.ended.wait()  # a REFER with Replaces takes this call over from the service
            await rec
            return
        if agent_behaviour == "hangs_up_in_whisper":
            await asyncio.sleep(0.5)
            await call.hangup()
        else:
            await asyncio.sleep(2.0)  # after the whisper, the agent says something
            call.play(tone(1000, 1.0).tobytes())
            await call.ended.wait()
        await rec

    async def service(call):
        await service_calls.put(call)
        await call.ended.wait()

    kw = {}
    if agent_behaviour == "busy":
        kw["admission"] = AdmissionConfig(max_calls=0)
    if agent_behaviour == "no_answer":
        kw["timing"] = TimingConfig(answer_delay=30.0)
    elif answer_delay:
        kw["timing"] = TimingConfig(answer_delay=answer_delay)
    agent_ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, **kw), agent_phone)
    if cancels is not None:
        on_cancel = agent_ep.answering.on_cancel

        def spy(req, tx, key):
            cancels.append(req.call_id)
            return on_cancel(req, tx, key)

        agent_ep.answering.on_cancel = spy
    svc_ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), service)
    caller_ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
    for ep in (agent_ep, svc_ep, caller_ep):
        await ep.start()
    try:
        phone = await caller_ep.invite(f"sip:support@127.0.0.1:{svc_ep.port}", ring_timeout=5)
        caller_rec = asyncio.create_task(record(phone, caller_heard))
        leg = await asyncio.wait_for(service_calls.get(), 5)
        pool = Pool([FakeAgent("alice", f"sip:alice@127.0.0.1:{agent_ep.port}")])
        desk = Desk()

        async def speak(text):
            probe.setdefault("spoken", []).append((text, asyncio.get_running_loop().time()))
            return tone(1500, 1.0)  # stands in for the spoken headline

        wt = WarmTransfer(leg, "call-1", SUMMARY, "explicit_request", invite=svc_ep.invite, agents=pool,
                          desktop=desk, speak=speak, on_event=events.append,
                          config=TransferConfig(ring_timeout_s=ring_timeout, max_attempts=2, refer_when_supported=refer))
        task = asyncio.create_task(wt.run())
        if caller_hangs_up_after is not None:
            await asyncio.sleep(caller_hangs_up_after)
            await phone.hangup()
        elif agent_behaviour == "answers":
            await asyncio.sleep(2.5)
            phone.play(tone(440, 1.5).tobytes())  # the caller speaks once bridged
            await asyncio.sleep(2.5)
            await phone.hangup()
        result = await asyncio.wait_for(task, 30)
        if not phone.ended.is_set():
            await phone.hangup()
        await asyncio.wait_for(caller_rec, 5)
        return result, events, desk, pool, caller_heard, agent_heard, agent_headers
    finally:
        for ep in (caller_ep, svc_ep, agent_ep):
            await ep.stop()


def test_headers_carry_a_short_single_line_summary():
    h = dict(summary_headers("c1", "frustration", {"paragraph": "x\r\ny " * 200, "intent": "refund"}))
    assert h["X-IVR-Call-ID"] == "c1" and h["X-IVR-Reason"] == "frustration" and h["X-IVR-Intent"] == "refund"
    assert len(h["X-IVR-Summary"]) <= 200 and "\n" not in h["X-IVR-Summary"] and "\r" not in h["X-IVR-Summary"]


async def test_the_whisper_is_the_headline_and_is_ready_before_the_agent_answers():
    probe = {}
    result, events, *_ = await scenario("answers", probe=probe, answer_delay=0.5)
    assert result.state is State.DONE
    (text, spoken_at), = probe["spoken"]
    assert text == "Order status, not identified, asked for a person."  # not the paragraph
    assert spoken_at < probe["answered"][0]  # synthesized while the phone rang


def test_hold_audio_has_no_dead_air():
    pcm = hold_loop()
    assert longest_silence_s(np.concatenate([pcm, pcm])) < 0.05  # the loop is seamless too


async def test_answered_whisper_then_bridge_both_ways():
    result, events, desk, pool, caller_heard, agent_heard, headers = await scenario("answers")
    assert result.state == State.DONE and result.agent_id == "alice"
    assert [e.state for e in events if isinstance(e, TransferEvent)][:4] == ["hold", "ringing", "whisper", "bridged"]
    # The screen pop went out as the phone started ringing, with the summary in it.
    assert desk.pops and desk.pops[0][0] == "alice" and desk.pops[0][1]["paragraph"] == SUMMARY["paragraph"]
    agent = np.concatenate(agent_heard)
    # The agent first hears the whisper (1500 Hz), then the caller (440 Hz).
    start = int(np.flatnonzero(np.abs(agent) > 2000)[0])
    assert abs(dominant_hz(agent[start : start + 4000]) - 1500) < 30
    loud = np.flatnonzero(np.abs(agent) > 2000)
    later = agent[loud[-1] - 4000 : loud[-1]]
    assert abs(dominant_hz(later) - 440) < 30
    caller = np.concatenate(caller_heard)
    # The caller heard hold audio (no dead air over 300 ms) and then the agent's 1000 Hz.
    heard_from = int(np.flatnonzero(np.abs(caller) > 500)[0])
    assert heard_from < 8000  # hold audio within a second of the transfer starting
    bridged = next(e for e in events if isinstance(e, TransferEvent) and e.state == "bridged").time_to_bridge_s
    assert longest_silence_s(caller[heard_from : heard_from + int(bridged * 8000)]) <= 0.3
    assert any(abs(dominant_hz(caller[i : i + 4000]) - 1000) < 30 for i in range(0, len(caller) - 4000, 2000))
    assert ("alice", "wrap_up") in pool.released


async def test_unavailable_agent_phone_then_back_to_bot():
    result, events, desk, pool, *_ = await scenario("busy")  # the phone answers 503: at capacity
    assert result.state == State.BACK_TO_BOT
    assert [e.result for e in events if isinstance(e, TransferAttemptEvent)] == ["unavailable"]
    assert ("alice", "available") in pool.released


async def test_no_answer_rings_out_then_back_to_bot():
    result, events, *_ = await scenario("no_answer", ring_timeout=1.0)
    assert result.state == State.BACK_TO_BOT
    assert [e.result for e in events if isinstance(e, TransferAttemptEvent)] == ["no_answer"]


async def test_agent_hangs_up_during_whisper():
    result, events, *_ = await scenario("hangs_up_in_whisper")
    assert result.state == State.BACK_TO_BOT
    assert "agent_hung_up" in [e.result for e in events if isinstance(e, TransferAttemptEvent)]


async def test_caller_hangs_up_while_agent_rings():
    cancels = []
    result, events, *_ = await scenario("no_answer", caller_hangs_up_after=0.8, ring_timeout=10, cancels=cancels)
    assert result.state == State.ABANDONED
    assert [e.result for e in events if isinstance(e, TransferAttemptEvent)] == ["cancelled"]
    assert len(cancels) == 1  # the CANCEL reached the agent's phone


async def test_refer_with_replaces_hands_the_caller_phone_to_the_agent():
    result, events, desk, pool, caller_heard, agent_heard, headers = await scenario("refer", refer=True)
    states = [e.state for e in events if isinstance(e, TransferEvent)]
    assert result.state == State.DONE and "referring" in states and states[-1] == "done"
    assert next(e for e in events if isinstance(e, TransferEvent) and e.state == "done").mode == "refer"
