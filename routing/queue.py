"""Skills queue: a call needing skill S gets the longest-idle available agent with S, or waits in
FIFO order, hearing its position and an expected wait, with a callback on offer.

The decisions are pure functions (`next_assignment`, `queue_position`, `expected_wait`,
`wait_sentence`, `should_offer_callback`); `CallQueue` is the asyncio plumbing around them and
an `AgentDirectory`. Assigning an agent marks them ringing in the same synchronous step
(`AgentDirectory.reserve`), so two calls never ring the same agent. An agent becoming available
(wrap-up done, back from away, a no-answer given back) wakes the oldest waiter they can serve.

Call it from the event loop's thread (waiters' futures are resolved synchronously on presence
changes). Handle time, for the expected wait, is measured from answer (on_call) to available again (so it
includes wrap-up), over the last `window` calls; before any call, `default_handle_time`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
import time
from typing import Any, Callable, Iterable, Sequence

from .agents import TRANSITIONS, Agent, AgentDirectory, AgentStatus, InvalidTransition, Presence

__all__ = [
    "CALLBACK_OFFER", "DEFAULT_HANDLE_TIME", "CallQueue", "CallbackRequest", "QueuePool", "QueueStatus", "ReservedAgent",
    "WaitingCall", "presence_path",
    "expected_wait", "next_assignment", "queue_position", "should_offer_callback", "wait_phrase", "wait_sentence",
]

DEFAULT_HANDLE_TIME = 180.0  # seconds, until real calls have been measured
CALLBACK_OFFER = "If you would rather not wait, press 1 and we will call you back as soon as an agent is free."


# ---- pure decisions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class WaitingCall:
    call_ref: str
    skill: str | None
    enqueued: float  # monotonic
    exclude: frozenset[str] = frozenset()  # agents not to offer this call to (e.g. who did not answer)

    def can_take(self, agent: Agent) -> bool:
        return agent.has_skill(self.skill) and agent.id not in self.exclude


def next_assignment(waiting: Sequence[WaitingCall], idle_agents: Sequence[Agent]) -> tuple[int, Agent] | None:
    """Who is next: the first waiting call (FIFO) that some idle agent can take, with the
    longest-idle such agent (`idle_agents` is ordered longest idle first). (index, agent) or None."""
    for i, call in enumerate(waiting):
        for agent in idle_agents:
            if call.can_take(agent):
                return i, agent
    return None


def _competes(earlier: WaitingCall, mine: WaitingCall) -> bool:
    """Whether `earlier` would take an agent before `mine` could (same skill, or either takes anyone)."""
    return earlier.skill is None or mine.skill is None or earlier.skill == mine.skill


def queue_position(waiting: Sequence[WaitingCall], call_ref: str) -> int | None:
    """1-based place of `call_ref` among the calls competing for the same agents; None if not waiting."""
    for i, call in enumerate(waiting):
        if call.call_ref == call_ref:
            return 1 + sum(1 for earlier in waiting[:i] if _competes(earlier, call))
    return None


def expected_wait(position: int, handle_times: Iterable[float], staffed: int,
                  default_handle_time: float = DEFAULT_HANDLE_TIME) -> float:
    """Seconds until an agent is likely free for the caller at `position`.

    Each of the `staffed` agents frees up once per average handle time, and the call now in
    progress is on average half done: (position - ½) × AHT / agents. With no one staffed, one
    agent is assumed (someone will sign in), so the caller still hears a number.
    """
    times = [t for t in handle_times if t > 0]
    aht = sum(times) / len(times) if times else default_handle_time
    return max(0.0, (max(position, 1) - 0.5) * aht / max(staffed, 1))


def wait_phrase(seconds: float) -> str:
    if seconds < 45:
        return "less than a minute"
    minutes = max(1, int(seconds / 60 + 0.5))
    if minutes > 60:
        return "more than an hour"
    return f"about {minutes} minute" + ("" if minutes == 1 else "s")


def wait_sentence(position: int, seconds: float) -> str:
    """'You are number 2 in the queue. The expected wait is about 3 minutes.'"""
    return f"You are number {position} in the queue. The expected wait is {wait_phrase(seconds)}."


def should_offer_callback(expected_seconds: float, threshold: float = 120.0) -> bool:
    return expected_seconds >= threshold


def presence_path(old: Presence, new: Presence) -> list[Presence] | None:
    """The shortest walk from `old` to `new` through the state machine that does not pass through
    ringing or on_call on the way (those mean a call): e.g. on_call → available is
    [wrap_up, available]. [] when already there; None when there is no such walk."""
    if old is new:
        return []
    frontier, seen = [[old]], {old}
    while frontier:
        nxt = []
        for path in frontier:
            for step in sorted(TRANSITIONS[path[-1]], key=lambda p: p.value):
                if step is new:
                    return path[1:] + [step]
                if step in seen or step in (Presence.RINGING, Presence.ON_CALL):
                    continue
                seen.add(step)
                nxt.append(path + [step])
        frontier = nxt
    return None


# ---- the asyncio side -----------------------------------------------------------------------------------
@dataclass
class _Waiter:
    view: WaitingCall
    future: asyncio.Future


@dataclass(frozen=True)
class QueueStatus:
    call_ref: str
    position: int
    expected_wait: float  # seconds
    sentence: str
    offer_callback: bool

    def to_dict(self) -> dict[str, Any]:
        return {"call_id": self.call_ref, "position": self.position, "expected_wait": round(self.expected_wait),
                "sentence": self.sentence, "offer_callback": self.offer_callback}


@dataclass(frozen=True)
class CallbackRequest:
    call_ref: str
    number: str
    skill: str | None
    requested_at: float  # epoch seconds
    waited: float  # seconds in the queue before asking


class CallQueue:
    def __init__(self, directory: AgentDirectory, *, default_handle_time: float = DEFAULT_HANDLE_TIME,
                 window: int = 20, callback_threshold: float = 120.0,
                 clock: Callable[[], float] | None = None) -> None:
        self.directory = directory
        self.default_handle_time = default_handle_time
        self.callback_threshold = callback_threshold
        self.clock = clock or directory.clock
        self.handle_times: deque[float] = deque(maxlen=window)
        self.callbacks: list[CallbackRequest] = []
        self._waiters: list[_Waiter] = []
        self._dispatching = False
        self._again = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._unsubscribe = directory.subscribe(self._on_presence)

    def close(self) -> None:
        self._unsubscribe()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for w in list(self._waiters):
            if not w.future.done():
                w.future.set_result(None)
        self._waiters.clear()

    # ---- waiting ---------------------------------------------------------------------------------
    async def wait_for_agent(self, call_ref: str, skill: str | None = None, timeout: float | None = None, *,
                             front: bool = False, exclude: Iterable[str] = ()) -> Agent | None:
        """The agent reserved (ringing) for this call, or None on timeout or when the call leaves the
        queue (callback, `leave`). `timeout=0` only tries. `front=True` puts a call that already
        waited (e.g. its agent did not answer) at the head; `exclude` skips given agents.
        Cancelling the waiting task gives back an agent assigned in the same instant."""
        if any(w.view.call_ref == call_ref for w in self._waiters):
            raise ValueError(f"call {call_ref!r} is already waiting")
        fut = asyncio.get_running_loop().create_future()
        waiter = _Waiter(WaitingCall(call_ref, skill or None, self.clock(), frozenset(exclude)), fut)
        if front:
            self._waiters.insert(0, waiter)
        else:
            self._waiters.append(waiter)
        self._dispatch()
        try:
            if fut.done():
                return fut.result()
            if timeout is not None and timeout <= 0:
                return None
            if timeout is None:
                return await fut
            try:
                return await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                return None
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.result() is not None:
                self._give_back(fut.result())
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _give_back(self, agent: Agent) -> None:
        if self.directory.presence(agent.id) is Presence.RINGING:
            self.directory.set_presence(agent.id, Presence.AVAILABLE)  # wakes the next waiter

    def leave(self, call_ref: str) -> bool:
        """Take a call out of the queue (the caller hung up); its wait_for_agent returns None."""
        for w in list(self._waiters):
            if w.view.call_ref == call_ref:
                self._waiters.remove(w)
                if not w.future.done():
                    w.future.set_result(None)
                return True
        return False

    def request_callback(self, call_ref: str, number: str, skill: str | None = None) -> CallbackRequest:
        """The caller chose a callback: recorded, and the call leaves the queue."""
        view = self._view(call_ref)
        waited = self.clock() - view.enqueued if view else 0.0
        req = CallbackRequest(call_ref, number, skill if skill is not None else (view.skill if view else None),
                              time.time(), round(waited, 1))
        self.callbacks.append(req)
        self.leave(call_ref)
        return req

    # ---- what the caller hears -------------------------------------------------------------------
    @property
    def waiting(self) -> list[WaitingCall]:
        return [w.view for w in self._waiters if not w.future.done()]

    def _view(self, call_ref: str) -> WaitingCall | None:
        return next((v for v in self.waiting if v.call_ref == call_ref), None)

    def position(self, call_ref: str) -> int | None:
        return queue_position(self.waiting, call_ref)

    def expected_wait(self, call_ref: str) -> float | None:
        view = self._view(call_ref)
        pos = self.position(call_ref)
        if view is None or pos is None:
            return None
        return expected_wait(pos, self.handle_times, self.directory.staffed(view.skill), self.default_handle_time)

    def status(self, call_ref: str) -> QueueStatus | None:
        pos, wait = self.position(call_ref), self.expected_wait(call_ref)
        if pos is None or wait is None:
            return None
        return QueueStatus(call_ref, pos, wait, wait_sentence(pos, wait), should_offer_callback(wait, self.callback_threshold))

    def announcement(self, call_ref: str, *, with_callback: bool = True) -> str | None:
        """What to tell a waiting caller now: position and expected wait (and the callback offer)."""
        st = self.status(call_ref)
        if st is None:
            return None
        return st.sentence + (" " + CALLBACK_OFFER if with_callback and st.offer_callback else "")

    def snapshot(self) -> list[dict[str, Any]]:
        now = self.clock()
        out = []
        for view in self.waiting:
            st = self.status(view.call_ref)
            out.append({"call_id": view.call_ref, "skill": view.skill, "waited": round(now - view.enqueued, 1),
                        "position": st.position if st else None, "expected_wait": round(st.expected_wait) if st else None})
        return out

    # ---- the agent's side of a call ---------------------------------------------------------------
    def answered(self, agent_id: str, call_ref: str | None = None) -> None:
        """The agent picked up: ringing → on_call."""
        self.directory.set_presence(agent_id, Presence.ON_CALL, call_ref=call_ref)

    def no_answer(self, agent_id: str, *, away: bool = True) -> None:
        """The agent did not answer or declined: ringing → away (ring-no-answer, the default, so the
        next call does not ring an empty desk) or back to available."""
        self.directory.set_presence(agent_id, Presence.AWAY if away else Presence.AVAILABLE)

    def hangup(self, agent_id: str, wrap_up: float | None = None) -> None:
        """The call with the agent ended: on_call → wrap_up; with `wrap_up` seconds, released after that."""
        self.directory.set_presence(agent_id, Presence.WRAP_UP)
        if wrap_up is not None:
            old = self._timers.pop(agent_id, None)
            if old:
                old.cancel()
            self._timers[agent_id] = asyncio.get_running_loop().call_later(wrap_up, self._auto_release, agent_id)

    def _auto_release(self, agent_id: str) -> None:
        self._timers.pop(agent_id, None)
        if self.directory.presence(agent_id) is Presence.WRAP_UP:
            self.release(agent_id)

    def release(self, agent_id: str) -> None:
        """Wrap-up done: wrap_up → available, which wakes the next waiter the agent can serve."""
        timer = self._timers.pop(agent_id, None)
        if timer:
            timer.cancel()
        self.directory.set_presence(agent_id, Presence.AVAILABLE)

    def move(self, agent_id: str, state: Presence | str, *, wrap_up: float | None = None) -> None:
        """Put the agent in `state` by the shortest valid walk (see `presence_path`); raises
        InvalidTransition if there is none. Reaching wrap_up with `wrap_up` seconds schedules the release."""
        target = Presence(state)
        current = self.directory.presence(agent_id)
        path = presence_path(current, target)
        if path is None:
            raise InvalidTransition(agent_id, current, target)
        for step in path:
            if step is Presence.WRAP_UP:
                self.hangup(agent_id, wrap_up)
            elif step is Presence.AVAILABLE and self.directory.presence(agent_id) is Presence.WRAP_UP:
                self.release(agent_id)
            else:
                self.directory.set_presence(agent_id, step)

    def pool(self, call_ref: str, *, wrap_up: float | None = None) -> "QueuePool":
        """This queue as the warm transfer's agent pool (`routing.transfer.AgentPool`) for one call."""
        return QueuePool(self, call_ref, wrap_up=wrap_up)

    def record_handle_time(self, seconds: float) -> None:
        if seconds > 0:
            self.handle_times.append(seconds)

    # ---- plumbing -------------------------------------------------------------------------------------
    def _on_presence(self, agent: Agent, old: Presence, new: Presence, status: AgentStatus) -> None:
        if new is not Presence.AVAILABLE:
            return
        if old is Presence.WRAP_UP and status.call_started is not None:
            self.record_handle_time(status.since - status.call_started)
            status.call_started = None
        self._dispatch()

    def _dispatch(self) -> None:
        """Match waiting calls to idle agents until no pair is left; synchronous, so atomic."""
        if self._dispatching:
            self._again = True
            return
        self._dispatching = True
        refused: set[str] = set()  # agents whose shared claim failed in this round
        try:
            while True:
                self._again = False
                live = [w for w in self._waiters if not w.future.done()]
                idle = [a for a in self.directory.available() if a.id not in refused]
                pick = next_assignment([w.view for w in live], idle)
                if pick is None:
                    if self._again:
                        continue
                    break
                i, agent = pick
                waiter = live[i]
                if not self.directory.reserve(agent.id, waiter.view.call_ref):
                    refused.add(agent.id)  # held by another worker: try the next agent
                    continue
                self._waiters.remove(waiter)
                waiter.future.set_result(agent)
        finally:
            self._dispatching = False


@dataclass(frozen=True)
class ReservedAgent:
    """An agent reserved (ringing) for a call, with the URI to INVITE them at right now."""

    id: str
    name: str
    contact: str
    skills: frozenset[str]
    agent: Agent


class QueuePool:
    """`acquire(skill, exclude, timeout)` / `release(agent, state)` over a CallQueue for one call.

    acquire waits in the queue (at the front when it is a retry, i.e. `exclude` is not empty) and
    returns a ReservedAgent or None. release moves the agent to the named presence ("on_call",
    "wrap_up", "available", "away") by the shortest valid walk; wrap_up is released after
    `wrap_up` seconds when given (else by the agent's desktop).
    """

    def __init__(self, queue: CallQueue, call_ref: str, *, wrap_up: float | None = None) -> None:
        self.queue = queue
        self.call_ref = call_ref
        self.wrap_up = wrap_up

    async def acquire(self, skill: str | None, exclude: Iterable[str] = (), timeout: float | None = None) -> ReservedAgent | None:
        exclude = frozenset(exclude)
        agent = await self.queue.wait_for_agent(self.call_ref, skill, timeout, front=bool(exclude), exclude=exclude)
        if agent is None:
            return None
        contact = self.queue.directory.contact_uri(agent.id) or agent.sip_uri or ""
        return ReservedAgent(agent.id, agent.name, contact, agent.skills, agent)

    def release(self, agent: ReservedAgent | Agent | str, state: Presence | str) -> None:
        agent_id = agent if isinstance(agent, str) else agent.id
        target = Presence(state)
        if target is Presence.ON_CALL:
            self.queue.answered(agent_id, self.call_ref)
        else:
            self.queue.move(agent_id, target, wrap_up=self.wrap_up)
