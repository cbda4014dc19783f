"""The callback scheduler over real SIP/RTP on loopback and a real store: when the agent becomes
available their desktop pops and their phone rings first, then the caller's phone rings, the
caller hears the company's line, then the two are bridged; a caller who does not answer is tried
again after the backoff and then marked failed. (Speech is stood in for by tones here, so the
audio checks are exact; tests/ivr/test_callback_e2e.py runs the whole service with its voice.)"""

import asyncio
import time

import numpy as np

from routing.agents import AgentDirectory, Presence, load_agents
from routing.callbacks import CallbackConfig, CallbackScheduler
from routing.queue import CallQueue
from routing.screenpop import ScreenPopHub
from store import Store
from telephony import EndpointConfig, SipEndpoint, TimingConfig

from tests.support import free_port, tone, tone_seconds

LINE_HZ, INTRO_HZ, CALLER_HZ, AGENT_HZ = 600, 700, 440, 1000


async def speak(text: str) -> np.ndarray:
    return tone(LINE_HZ if "returning your call" in text else INTRO_HZ, 1.0)


class Phone:
    """A real SIP phone on loopback: answers after `answer_delay`, records what it hears, plays a tone."""

    def __init__(self, hz: int, *, answer_delay: float = 0.2, hang_up_after: float | None = None):
        self.hz, self.hang_up_after = hz, hang_up_after
        self.port = free_port()
        self.rang: list[float] = []  # every INVITE that reached it
        self.answered: list[float] = []
        self.heard: list[np.ndarray] = []
        self.done = asyncio.Event()
        self.ep = SipEndpoint(EndpointConfig("127.0.0.1", self.port, timing=TimingConfig(answer_delay=answer_delay)),
                              self.on_call, admit=self._rings)

    def _rings(self) -> bool:
        self.rang.append(time.time())
        return True

    @property
    def uri(self) -> str:
        return f"sip:phone@127.0.0.1:{self.port}"

    async def on_call(self, call):
        self.answered.append(time.time())
        call.play(tone(self.hz, 6.0).tobytes())
        if self.hang_up_after is not None:
            asyncio.get_running_loop().call_later(self.hang_up_after, lambda: asyncio.ensure_future(call.hangup()))
        while (f := await call.read_frame()) is not None:
            self.heard.append(np.frombuffer(f, dtype=np.int16).copy())
        self.done.set()

    def audio(self) -> np.ndarray:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, np.int16)


def _first(pcm: np.ndarray, hz: int, chunk: int = 3200) -> int:
    """Where (in samples) the tone is first heard, in 0.4 s steps."""
    return next(i for i in range(0, len(pcm), chunk) if tone_seconds(pcm[i:i + chunk + 1], hz) > 0)


async def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := pred()):
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _setup(tmp_path, agent: Phone, config: CallbackConfig):
    store = Store(f"sqlite:///{tmp_path}/cb.db")
    store.worker_id = "w1"
    directory = AgentDirectory(load_agents([f"alice=sip:alice@127.0.0.1:{agent.port};skills=billing"]),
                               initial=Presence.AWAY)  # nobody free when the caller asked
    queue, hub = CallQueue(directory), ScreenPopHub()
    service = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
    await service.start()
    sched = CallbackScheduler(store.callbacks, queue, hub, service.invite, speak, config)
    return store, directory, queue, hub, service, sched


async def test_agent_rings_first_then_the_caller_and_they_are_bridged(tmp_path):
    agent, caller = Phone(AGENT_HZ, hang_up_after=5.0), Phone(CALLER_HZ)
    store, directory, queue, hub, service, sched = await _setup(tmp_path, agent, CallbackConfig(poll_s=0.5))
    await agent.ep.start()
    await caller.ep.start()
    desk = hub.connect("alice")
    try:
        call_id = store.call_started("sip-1", "+15550001")
        cid = store.add_callback(call_id, caller.uri, skill="billing",
                                 summary={"paragraph": "Caller wants a refund.", "intent": "refund"})
        store.flush_sync()
        sched.start()
        await asyncio.sleep(1.0)
        assert not agent.rang and store.callbacks.get(cid)["status"] == "pending"  # nobody available yet
        directory.set_presence("alice", Presence.AVAILABLE)  # the agent signs in
        pop = await asyncio.wait_for(desk.get(), 10)
        popped_at = time.time()
        await asyncio.wait_for(caller.done.wait(), 30)
        await _wait(lambda: store.callbacks.get(cid)["status"] == "done", 10, "the callback to be done")
    finally:
        await sched.stop()
        for ep in (service, agent.ep, caller.ep):
            await ep.stop()
        store.close()
    assert pop["type"] == "pop" and pop["callback_id"] == cid and pop["reason"] == "callback"
    assert pop["summary"]["paragraph"] == "Caller wants a refund." and pop["caller"] == caller.uri
    # the pop, then the agent's phone, then (once the agent answered) the caller's
    assert popped_at <= agent.rang[0] + 0.5 and agent.answered[0] < caller.rang[0]
    heard = caller.audio()
    assert tone_seconds(heard, LINE_HZ) >= 0.6, "the caller did not hear 'This is Acme returning your call'"
    assert tone_seconds(heard, AGENT_HZ) >= 1.0, "the caller never heard the agent: not bridged"
    assert _first(heard, AGENT_HZ) > _first(heard, LINE_HZ), "the agent was heard before the company's line"
    assert tone_seconds(agent.audio(), CALLER_HZ) >= 1.0  # and the agent hears the caller
    assert tone_seconds(agent.audio(), INTRO_HZ) >= 0.6  # who they are calling back, before the caller


async def test_a_caller_who_does_not_answer_is_retried_then_failed(tmp_path):
    agent = Phone(AGENT_HZ)
    caller = Phone(CALLER_HZ, answer_delay=30.0)  # rings, nobody picks up
    config = CallbackConfig(max_attempts=2, backoff_s=1.0, caller_ring_s=1.5, poll_s=0.3, wrap_up_s=0.2)
    store, directory, queue, hub, service, sched = await _setup(tmp_path, agent, config)
    directory.set_presence("alice", Presence.AVAILABLE)
    await agent.ep.start()
    await caller.ep.start()
    try:
        cid = store.add_callback(None, caller.uri)
        store.flush_sync()
        sched.start()
        await _wait(lambda: store.callbacks.get(cid)["attempts"] == 1, 20, "the first attempt")
        first = store.callbacks.get(cid)
        assert (first["status"], first["last_result"]) in {("pending", "no_answer"), ("in_progress", "no_answer")}
        row = await _wait(lambda: (r := store.callbacks.get(cid))["status"] == "failed" and r, 30, "failed")
        await _wait(lambda: directory.presence("alice") is Presence.AVAILABLE, 5, "alice free again")
    finally:
        await sched.stop()
        for ep in (service, agent.ep, caller.ep):
            await ep.stop()
        store.close()
    assert (row["attempts"], row["last_result"], row["agent"]) == (2, "no_answer", "alice")
    assert len(caller.rang) == 2 and not caller.answered  # rang twice, never answered
    assert caller.rang[1] - caller.rang[0] >= 1.5 + 1.0 - 0.3  # the ring time, then the backoff
    assert len(agent.answered) == 2  # the agent was rung first both times


async def test_two_workers_one_callback_placed_once_and_a_restart_puts_back_what_was_in_progress(tmp_path):
    """Two workers on one database, each with a free agent: the callback is claimed by one of them
    and the caller's phone rings once. Then a worker that died mid-call restarts: its callback goes
    back to pending and is placed."""
    caller = Phone(CALLER_HZ, hang_up_after=1.5)
    agents = [Phone(AGENT_HZ), Phone(AGENT_HZ)]
    config = CallbackConfig(poll_s=0.3, wrap_up_s=0.2)
    workers = []
    for i, agent in enumerate(agents):
        store, directory, queue, hub, service, sched = await _setup(tmp_path, agent, config)
        store.worker_id = f"w{i + 1}"
        directory.set_presence("alice", Presence.AVAILABLE)
        await agent.ep.start()
        workers.append((store, service, sched))
    await caller.ep.start()
    stores = [w[0] for w in workers]
    try:
        cid = stores[0].add_callback(None, caller.uri)
        stores[0].flush_sync()
        for _, _, sched in workers:  # both look at the queue at once
            sched.start()
        await _wait(lambda: stores[0].callbacks.get(cid)["status"] == "done", 30, "the callback done")
        assert len(caller.rang) == 1 and sum(len(a.answered) for a in agents) == 1  # placed once, one agent
        # w2 dies while placing a callback, then restarts
        await workers[1][2].stop()
        stale = stores[0].add_callback(None, caller.uri)
        stores[0].flush_sync()
        assert stores[1].callbacks.claim(stale)
        await asyncio.sleep(1.0)  # a few of w1's rounds: another worker's call in progress is left alone
        assert stores[0].callbacks.get(stale)["status"] == "in_progress" and len(caller.rang) == 1
        workers[1][2].start()  # w2's restart puts back what it had in progress
        await _wait(lambda: stores[0].callbacks.get(stale)["status"] == "done", 30, "the requeued callback done")
    finally:
        for store, service, sched in workers:
            await sched.stop()
            await service.stop()
        for p in (*agents, caller):
            await p.ep.stop()
        for store in stores:
            store.close()
    assert len(caller.rang) == 2 and len(caller.answered) == 2  # once per callback, never twice
