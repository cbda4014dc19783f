"""The skills queue: pure decisions, then the asyncio side (reservation, FIFO, timeout, cancel, callback)."""

import asyncio

import pytest

from routing.agents import Agent, AgentDirectory, Presence
from routing.queue import (
    CALLBACK_OFFER, CallQueue, WaitingCall, expected_wait, next_assignment, queue_position, should_offer_callback,
    wait_phrase, wait_sentence,
)


class Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def A(agent_id, *skills):
    return Agent(agent_id, agent_id, f"sip:{agent_id}@127.0.0.1:5090", frozenset(skills))


def W(ref, skill=None, t=0.0, exclude=()):
    return WaitingCall(ref, skill, t, frozenset(exclude))


# ---- pure ---------------------------------------------------------------------------------------------------
def test_next_assignment_is_fifo_with_the_longest_idle_capable_agent():
    waiting = [W("c1", "orders"), W("c2", "billing"), W("c3", "billing")]
    # agents longest idle first
    assert next_assignment(waiting, [A("x", "billing"), A("y", "orders")]) == (0, A("y", "orders"))
    assert next_assignment(waiting, [A("x", "billing")]) == (1, A("x", "billing"))
    assert next_assignment(waiting, [A("z", "fraud")]) is None
    assert next_assignment([W("c1", None)], [A("z", "fraud")]) == (0, A("z", "fraud"))
    assert next_assignment([W("c1", "fraud", exclude={"z"})], [A("z", "fraud")]) is None


def test_position_counts_only_competing_calls():
    waiting = [W("c1", "orders"), W("c2", "billing"), W("c3", None), W("c4", "billing")]
    assert [queue_position(waiting, r) for r in ("c1", "c2", "c3", "c4", "nope")] == [1, 1, 3, 3, None]


def test_expected_wait_and_sentence():
    assert expected_wait(1, [], 1) == 90.0  # default 180 s handle time, half of the current call
    assert expected_wait(2, [120, 240], 1) == 270.0
    assert expected_wait(4, [60], 2) == 105.0
    assert expected_wait(2, [120], 0) == 180.0  # nobody staffed: as if one agent
    assert wait_sentence(2, 170) == "You are number 2 in the queue. The expected wait is about 3 minutes."
    assert wait_sentence(1, 61) == "You are number 1 in the queue. The expected wait is about 1 minute."
    assert wait_phrase(20) == "less than a minute" and wait_phrase(4000) == "more than an hour"
    assert should_offer_callback(300) and not should_offer_callback(60)


# ---- asyncio ------------------------------------------------------------------------------------------------
@pytest.fixture
def rig():
    clock = Clock(0.0)
    d = AgentDirectory(["a=sip:a@127.0.0.1:1;skills=billing", "b=sip:b@127.0.0.1:2;skills=billing,orders"], clock=clock)
    q = CallQueue(d)
    yield d, q, clock
    q.close()


async def test_free_agent_is_reserved_at_once(rig):
    d, q, clock = rig
    clock.t = 10
    d.set_presence("a", "away")
    d.set_presence("a", "available")  # a idle since 10, b since 0 → b is longest idle
    agent = await q.wait_for_agent("c1", "billing", timeout=1)
    assert agent.id == "b" and d.presence("b") is Presence.RINGING and d.status("b").call_ref == "c1"


async def test_concurrent_callers_never_get_the_same_agent(rig):
    d, q, _ = rig
    results = await asyncio.gather(*(q.wait_for_agent(f"c{i}", "billing", timeout=0.2) for i in range(5)))
    got = [r.id for r in results if r is not None]
    assert sorted(got) == ["a", "b"] and results.count(None) == 3
    assert {d.status(x).call_ref for x in got} == {"c0", "c1"}  # the first two in line got them


async def test_waiters_are_served_in_fifo_order_as_agents_free_up(rig):
    d, q, clock = rig
    for agent_id in ("a", "b"):
        d.set_presence(agent_id, "away")
    tasks = [asyncio.create_task(q.wait_for_agent(f"c{i}", "billing", timeout=5)) for i in range(3)]
    await asyncio.sleep(0)
    assert [q.position(f"c{i}") for i in range(3)] == [1, 2, 3]
    # both agents away: one assumed; (2 - 0.5) x 180 s = 270 s
    assert q.announcement("c1", with_callback=False) == "You are number 2 in the queue. The expected wait is about 5 minutes."
    d.set_presence("a", "available")
    first = await tasks[0]
    assert first.id == "a" and not tasks[1].done()
    assert q.position("c1") == 1 and q.position("c2") == 2
    # a takes the call, hangs up after 100 s, 20 s wrap-up; releasing wakes the next waiter (c1)
    q.answered("a", "c0")
    clock.t += 100
    q.hangup("a")
    clock.t += 20
    q.release("a")
    second = await tasks[1]
    assert second.id == "a" and list(q.handle_times) == [120]
    d.set_presence("b", "available")
    assert (await tasks[2]).id == "b"
    assert q.waiting == []


async def test_skill_routing_skips_calls_the_agent_cannot_take(rig):
    d, q, _ = rig
    d.set_presence("a", "away")
    d.set_presence("b", "away")
    orders = asyncio.create_task(q.wait_for_agent("o1", "orders", timeout=5))
    billing = asyncio.create_task(q.wait_for_agent("b1", "billing", timeout=5))
    await asyncio.sleep(0)
    d.set_presence("a", "available")  # billing only: serves b1 although o1 waited longer
    assert (await billing).id == "a" and not orders.done()
    d.set_presence("b", "available")
    assert (await orders).id == "b"


async def test_timeout_returns_none_and_leaves_the_queue(rig):
    d, q, _ = rig
    d.set_presence("a", "away")
    d.set_presence("b", "away")
    assert await q.wait_for_agent("c1", "billing", timeout=0.05) is None
    assert q.waiting == [] and await q.wait_for_agent("c2", "billing", timeout=0) is None
    d.set_presence("a", "available")
    assert d.presence("a") is Presence.AVAILABLE  # nobody was left to take it


async def test_cancelled_waiter_leaves_and_a_same_instant_assignment_is_given_back(rig):
    d, q, _ = rig
    d.set_presence("a", "away")
    d.set_presence("b", "away")
    t1 = asyncio.create_task(q.wait_for_agent("c1", "billing"))
    t2 = asyncio.create_task(q.wait_for_agent("c2", "billing", timeout=5))
    await asyncio.sleep(0)
    d.set_presence("a", "available")  # assigned to c1 ...
    t1.cancel()  # ... but c1 hangs up before its task ran
    with pytest.raises(asyncio.CancelledError):
        await t1
    agent = await t2  # a went back and on to c2
    assert agent.id == "a" and d.status("a").call_ref == "c2"


async def test_no_answer_sends_agent_away_and_caller_to_the_front(rig):
    d, q, _ = rig
    d.set_presence("b", "away")
    agent = await q.wait_for_agent("c1", "billing", timeout=1)
    assert agent.id == "a"
    d.set_presence("b", "available")
    d.set_presence("b", "ringing")  # b is busy with someone else meanwhile
    later = asyncio.create_task(q.wait_for_agent("c2", "billing", timeout=5))
    await asyncio.sleep(0)
    q.no_answer("a")  # ring-no-answer: a goes away
    assert d.presence("a") is Presence.AWAY
    retry = asyncio.create_task(q.wait_for_agent("c1", "billing", timeout=5, front=True, exclude={"a"}))
    await asyncio.sleep(0)
    assert q.position("c1") == 1 and q.position("c2") == 2
    d.set_presence("b", "available")
    assert (await retry).id == "b"
    d.set_presence("a", "available")
    assert (await later).id == "a"


async def test_callback_request_takes_the_call_out_of_the_queue(rig):
    d, q, clock = rig
    d.set_presence("a", "away")
    d.set_presence("b", "away")
    waiting = asyncio.create_task(q.wait_for_agent("c1", "billing", timeout=5))
    await asyncio.sleep(0)
    clock.t += 42
    st = q.status("c1")
    assert st.position == 1 and st.offer_callback is False  # (1 - 0.5) x 180 s = 90 s, under the 120 s threshold
    req = q.request_callback("c1", "+15551234567")
    assert await waiting is None
    assert req.number == "+15551234567" and req.skill == "billing" and req.waited == 42
    assert q.callbacks == [req] and q.status("c1") is None


async def test_callback_is_offered_when_the_wait_is_long(rig):
    d, q, _ = rig
    d.set_presence("a", "away")
    d.set_presence("b", "away")
    tasks = [asyncio.create_task(q.wait_for_agent(f"c{i}", "billing", timeout=5)) for i in range(3)]
    await asyncio.sleep(0)
    text = q.announcement("c2")
    assert text.startswith("You are number 3 in the queue.") and text.endswith(CALLBACK_OFFER)
    assert q.snapshot()[2]["position"] == 3
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert q.waiting == []


async def test_auto_wrap_up_release(rig):
    d, q, _ = rig
    d.set_presence("b", "away")
    agent = await q.wait_for_agent("c1", "billing", timeout=1)
    q.answered(agent.id)
    waiting = asyncio.create_task(q.wait_for_agent("c2", "billing", timeout=2))
    q.hangup(agent.id, wrap_up=0.05)
    assert d.presence("a") is Presence.WRAP_UP
    assert (await waiting).id == "a"


# ---- the queue as the warm transfer's agent pool ----------------------------------------------------------
def test_presence_path():
    from routing.queue import presence_path

    P = Presence
    assert presence_path(P.ON_CALL, P.AVAILABLE) == [P.WRAP_UP, P.AVAILABLE]
    assert presence_path(P.RINGING, P.AWAY) == [P.AWAY]
    assert presence_path(P.AWAY, P.AWAY) == []
    assert presence_path(P.AVAILABLE, P.WRAP_UP) is None  # not without a call
    assert presence_path(P.ON_CALL, P.AWAY) == [P.WRAP_UP, P.AWAY]


async def test_pool_follows_a_transfer(rig):
    d, q, clock = rig
    d.on_register(type("R", (), {"user": "b", "contact": "sip:b@127.0.0.1:7777", "expires": 60})())
    pool = q.pool("call-1", wrap_up=0.05)
    first = await pool.acquire("billing", set(), 1)
    assert first.id == "a" and first.contact == "sip:a@127.0.0.1:1"  # a listed first, both idle since 0
    pool.release(first, "away")  # no answer
    second = await pool.acquire("billing", {"a"}, 1)
    assert second.id == "b" and second.contact == "sip:b@127.0.0.1:7777"  # the registered contact
    pool.release(second, "on_call")
    assert d.presence("b") is Presence.ON_CALL and d.status("b").call_ref == "call-1"
    waiting = asyncio.create_task(q.pool("call-2").acquire("orders", set(), 2))
    await asyncio.sleep(0)
    clock.t += 30
    pool.release(second, "wrap_up")  # call over: b is released after the 0.05 s wrap-up and takes call-2
    assert d.presence("b") is Presence.WRAP_UP
    third = await waiting
    assert third.id == "b" and d.status("b").call_ref == "call-2"
    q.pool("call-2").release(third, "on_call")
    clock.t += 10
    q.pool("call-2").release(third, "available")  # the agent hung up during the whisper
    assert d.presence("b") is Presence.AVAILABLE and list(q.handle_times) == [30, 10]
