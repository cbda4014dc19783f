"""Callbacks that are actually placed: the queue's decisions as pure functions, and the scheduler.

A callback the caller asked for is a row in the store (``store.callbacks``). The scheduler takes
the oldest due one for which an agent is free (skill, else anyone, the same rule as a live call),
claims it in the store (one UPDATE: across workers only one places it), reserves the agent through
the call queue (so a live caller waiting now still goes first, and no agent is rung twice), then:

    agent's desktop pops (the original call's summary) → INVITE the agent → agent answers →
    INVITE the caller (trunk URI with the number, or the caller's own SIP URI) → caller answers →
    "This is Acme returning your call." → bridged until either hangs up → done

An agent who does not answer costs the callback nothing (it goes back to pending for the next
agent); a caller who does not answer is retried with exponential backoff, `max_attempts` in all,
then failed. Everything is in the store, so a restart loses nothing: a worker that restarts
puts back what it had in progress, and a claim older than `stale_after_s` is taken as abandoned.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Mapping, Protocol, Sequence

import numpy as np

from routing.screenpop import make_pop
from routing.transfer import summary_headers

log = logging.getLogger(__name__)

STATUSES = ("pending", "in_progress", "done", "failed", "cancelled")
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")


# ---- what crosses the boundary ------------------------------------------------------------------
@dataclass(frozen=True)
class Callback:
    """One queued callback, as the store gives it to the scheduler."""

    id: str
    number: str  # a phone number ('+15551234567') or a SIP URI ('sip:bob@host')
    call_id: str | None = None  # the original call
    skill: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    attempts: int = 0  # caller attempts made so far
    requested_at: datetime | None = None
    next_try_at: datetime | None = None


@dataclass(frozen=True)
class CallbackConfig:
    """How callbacks are placed (``ivr serve --callback-*``)."""

    trunk_uri: str | None = None  # 'sip:{number}@trunk.example.com'; None: dial the caller's SIP URI as stored
    max_attempts: int = 3  # caller attempts before the callback is failed
    backoff_s: float = 120.0  # wait after the first unanswered attempt; doubles each time
    backoff_max_s: float = 3600.0
    caller_ring_s: float = 30.0
    agent_ring_s: float = 20.0
    poll_s: float = 2.0  # how often the store is read for due callbacks (presence changes wake it too)
    stale_after_s: float = 3600.0  # an in-progress claim this old was left by a dead worker
    worker_stale_s: float = 10.0  # a worker without a heartbeat this long is dead (its callbacks go back)
    sweep_s: float = 10.0  # how often dead workers' callbacks are looked for
    company: str = "Acme"
    wrap_up_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("callback max_attempts: at least 1")
        if self.backoff_s < 0 or self.backoff_max_s < self.backoff_s:
            raise ValueError("callback backoff: 0 <= backoff_s <= backoff_max_s")
        if self.trunk_uri is not None and not self.trunk_uri.startswith(("sip:", "sips:")):
            raise ValueError(f"callback trunk_uri: a sip: URI, '{{number}}' where the number goes (got {self.trunk_uri!r})")


@dataclass(frozen=True)
class Step:
    """What becomes of a callback after an attempt."""

    status: str  # pending (try again at next_try_at), done, failed
    next_try_at: datetime | None
    attempts: int
    result: str


# ---- pure decisions ---------------------------------------------------------------------------------
def returning_line(company: str) -> str:
    return f"This is {company} returning your call."


def dial_uri(number: str, trunk_uri: str | None) -> str:
    """Where to INVITE the caller: through the trunk ('{number}' replaced, or the number as its
    user part), or the caller's own SIP URI. ValueError for something that is neither."""
    number = number.strip()
    if number.startswith(("sip:", "sips:")):
        if trunk_uri is None:
            return number
        user = number.split(":", 1)[1].split("@", 1)[0]
        number = user if _NUMBER.match(user) else ""
    if not _NUMBER.match(number):
        raise ValueError(f"callback number: not a phone number or SIP URI ({number!r})")
    if trunk_uri is None:
        raise ValueError("callback: a phone number needs a trunk URI to dial through")
    if "{number}" in trunk_uri:
        return trunk_uri.replace("{number}", number)
    scheme, rest = trunk_uri.split(":", 1)
    return f"{scheme}:{number}@{rest.split('@', 1)[-1]}"


def callback_number(call, config: CallbackConfig) -> str:
    """What to store for a caller (a telephony Call) who said yes: with a trunk their number (From's
    user part), else their phone's own SIP URI (the Contact of their INVITE), where it can be rung."""
    remote_uri = call.remote_uri
    target = getattr(getattr(call, "dialog", None), "remote_target", None) or remote_uri.strip("<>")
    if config.trunk_uri:
        user = remote_uri.split(":", 1)[-1].split("@", 1)[0] if "@" in remote_uri else ""
        return user if _NUMBER.match(user) else target
    return target


def retry_delay(attempts: int, config: CallbackConfig) -> float:
    """Seconds to wait after the `attempts`-th unanswered attempt: backoff_s × 2^(attempts-1), capped."""
    return min(config.backoff_max_s, config.backoff_s * (2 ** max(0, attempts - 1)))


def after_caller(attempts_before: int, result: str, now: datetime, config: CallbackConfig) -> Step:
    """The caller's leg ended as `result` (answered, no_answer, busy, declined, failed)."""
    attempts = attempts_before + 1
    if result == "answered":
        return Step("done", None, attempts, result)
    if attempts >= config.max_attempts:
        return Step("failed", None, attempts, result)
    return Step("pending", now + timedelta(seconds=retry_delay(attempts, config)), attempts, result)


def after_agent(cb: Callback, result: str, now: datetime) -> Step:
    """The agent did not take it: the caller is not charged an attempt; the next free agent gets it."""
    return Step("pending", now, cb.attempts, f"agent_{result}")


def is_due(cb: Callback, now: datetime) -> bool:
    return cb.next_try_at is None or cb.next_try_at <= now


def next_callback(due: Sequence[Callback], free: Callable[[str | None], bool],
                  staffed: Callable[[str | None], bool]) -> Callback | None:
    """Who to ring for: the oldest due callback an agent is free for (a skill nobody is signed in
    with falls back to anyone, as for a live call). `free(skill)`: an agent with it is available."""
    for cb in due:
        skill = cb.skill if cb.skill and staffed(cb.skill) else None
        if free(skill):
            return cb
    return None


_FAILURES = {486: "busy", 600: "busy", 603: "declined", 408: "no_answer", 480: "no_answer", 487: "no_answer"}


def failure_result(status: int) -> str:
    return _FAILURES.get(status, "failed")


# ---- the asyncio side -------------------------------------------------------------------------------
class CallbackStore(Protocol):
    """The store's callback queue (``store.callbacks.Callbacks``), duck-typed: routing does not import store."""

    def due(self, now: datetime, limit: int = 20) -> list[Callback]: ...

    def claim(self, callback_id: str) -> bool: ...

    def finish(self, callback_id: str, step: Step, agent: str | None = None) -> bool: ...

    def started(self, callback_id: str, agent: str) -> None: ...

    def requeue(self, *, mine: bool, older_than: datetime | None, dead_after_s: float | None = None) -> int: ...


class CallbackScheduler:
    """See the module docstring. ``start()`` in the event loop, ``await stop()`` at shutdown."""

    def __init__(self, store: CallbackStore, queue, hub, invite: Callable[..., Awaitable[Any]],
                 speak: Callable[[str], Awaitable[np.ndarray]], config: CallbackConfig | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.store = store
        self.queue = queue  # routing.queue.CallQueue
        self.hub = hub  # routing.screenpop.ScreenPopHub
        self._invite = invite  # SipEndpoint.invite
        self._speak = speak  # text -> 8 kHz PCM
        self.config = config or CallbackConfig()
        self.now = now
        self.placing: dict[str, asyncio.Task] = {}  # callback id -> its task
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._unsubscribe = None

    def start(self) -> None:
        if self._task is None:
            self._unsubscribe = self.queue.directory.subscribe(self._on_presence)
            self._task = asyncio.create_task(self._loop(), name="callbacks")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        tasks = [t for t in (self._task, *self.placing.values()) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    def wake(self) -> None:
        """Look at the queue now (a callback was added, a supervisor pressed call now)."""
        self._wake.set()

    def _on_presence(self, agent, old, new, status) -> None:
        if str(getattr(new, "value", new)) == "available":
            self._wake.set()

    async def _loop(self) -> None:
        swept_at: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                if swept_at is None or loop.time() - swept_at >= self.config.sweep_s:
                    await self._sweep(first=swept_at is None)
                    swept_at = loop.time()
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away for a moment: try again next round
                log.exception("callbacks: scheduling round failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.poll_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def _sweep(self, *, first: bool) -> None:
        """Put back what this worker had in progress before it restarted (first round) and what dead workers left."""
        cfg = self.config
        stale = self.now() - timedelta(seconds=cfg.stale_after_s)
        back = await asyncio.to_thread(lambda: self.store.requeue(mine=first, older_than=stale,
                                                                  dead_after_s=cfg.worker_stale_s))
        if back:
            log.info("callbacks: %d put back in the queue (a worker restarted or died)", back)

    async def run_once(self) -> int:
        """Start placing every due callback an agent is free for now; how many were started."""
        directory = self.queue.directory
        due = [cb for cb in await asyncio.to_thread(self.store.due, self.now()) if cb.id not in self.placing]
        started = 0
        while due:
            cb = next_callback(due, lambda s: bool(directory.available(s)), lambda s: directory.staffed(s) > 0)
            if cb is None:
                break
            due.remove(cb)
            if not await asyncio.to_thread(self.store.claim, cb.id):
                continue  # another worker has it, or a supervisor cancelled it
            skill = cb.skill if cb.skill and directory.staffed(cb.skill) else None
            agent = await self.queue.wait_for_agent(f"callback:{cb.id}", skill, timeout=0)
            if agent is None:  # a live caller (or another worker) took that agent first
                await asyncio.to_thread(self.store.finish, cb.id, after_agent(cb, "taken", self.now()))
                continue
            self.placing[cb.id] = asyncio.create_task(self._place(cb, agent), name=f"callback {cb.id}")
            started += 1
        return started

    async def _place(self, cb: Callback, agent) -> None:
        try:
            step = await self._ring(cb, agent)
        except asyncio.CancelledError:
            await asyncio.to_thread(self.store.finish, cb.id, after_agent(cb, "interrupted", self.now()))
            raise
        except Exception:
            log.exception("callback %s failed to place", cb.id)
            step = after_agent(cb, "error", self.now())
        finally:
            self.placing.pop(cb.id, None)
        await asyncio.to_thread(self.store.finish, cb.id, step, agent.id)
        log.info("callback %s: %s after %d caller attempt(s) (%s)", cb.id, step.status, step.attempts, step.result)
        self._wake.set()

    async def _ring(self, cb: Callback, agent) -> Step:
        from telephony import Bridge, CallFailed

        cfg, queue = self.config, self.queue
        ref = f"callback:{cb.id}"
        contact = queue.directory.contact_uri(agent.id) or agent.sip_uri or ""
        summary = dict(cb.summary or {})
        self.hub.pop(agent.id, make_pop(summary, call_id=cb.call_id or ref, reason="callback", caller=cb.number,
                                        callback_id=cb.id, attempt=cb.attempts + 1))
        headers = summary_headers(cb.call_id or ref, "callback", summary) + [("X-IVR-Callback", cb.id)]
        try:
            agent_leg = await self._invite(contact, headers=headers, ring_timeout=cfg.agent_ring_s)
        except (CallFailed, OSError) as exc:
            result = failure_result(exc.status) if isinstance(exc, CallFailed) else "failed"
            queue.no_answer(agent.id, away=result in ("no_answer", "failed"))
            return after_agent(cb, result, self.now())
        queue.answered(agent.id, ref)
        await asyncio.to_thread(self.store.started, cb.id, agent.id)
        try:
            return await self._with_agent(cb, agent_leg, Bridge, CallFailed)
        finally:
            for leg in (agent_leg,):
                if not leg.ended.is_set():
                    await leg.hangup()
            queue.hangup(agent.id, cfg.wrap_up_s)

    async def _with_agent(self, cb: Callback, agent_leg, Bridge, CallFailed) -> Step:
        cfg = self.config
        paragraph = str((cb.summary or {}).get("paragraph") or "")
        who = cb.number.split(":", 1)[-1].split("@", 1)[0]
        who = " ".join(who) if _NUMBER.match(who) else "the caller"  # digits read one by one
        intro = await self._speak(f"Callback to {who}. {paragraph}".strip())
        agent_leg.play(intro.astype(np.int16).tobytes())
        line = await self._speak(returning_line(cfg.company))
        try:
            uri = dial_uri(cb.number, cfg.trunk_uri)
        except ValueError as exc:
            log.warning("callback %s: %s", cb.id, exc)
            return Step("failed", None, cb.attempts, "bad_number")
        dialing = asyncio.ensure_future(self._invite(uri, headers=[("X-IVR-Callback", cb.id)],
                                                     ring_timeout=cfg.caller_ring_s))
        agent_gone = asyncio.ensure_future(agent_leg.ended.wait())
        try:
            done, _ = await asyncio.wait({dialing, agent_gone}, return_when=asyncio.FIRST_COMPLETED)
            if dialing not in done:  # the agent hung up while the caller's phone rang: try again later
                dialing.cancel()
                await asyncio.gather(dialing, return_exceptions=True)
                return after_agent(cb, "hung_up", self.now())
            try:
                caller_leg = dialing.result()
            except CallFailed as exc:
                return after_caller(cb.attempts, failure_result(exc.status), self.now(), cfg)
            except OSError:
                return after_caller(cb.attempts, "failed", self.now(), cfg)
        finally:
            agent_gone.cancel()
        step = after_caller(cb.attempts, "answered", self.now(), cfg)
        # The company's line straight on the caller's leg, heard to the end before the agent is put
        # through (through a split bridge it would race the agent's frames queued meanwhile).
        caller_leg.play(line.astype(np.int16).tobytes())
        await _drained(caller_leg, agent_leg, limit_s=len(line) / 8000 + 5.0)
        bridge = Bridge(caller_leg, agent_leg, joined=True, hangup_together=True)
        bridge.start()
        log.info("callback %s: bridged %s with agent", cb.id, cb.number)
        await bridge.wait()
        await bridge.stop()
        if not caller_leg.ended.is_set():
            await caller_leg.hangup()
        return step


async def _drained(leg, other, limit_s: float) -> None:
    """Until what `leg` was playing has nearly gone out (or either leg ended)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while (leg.playback_queued_ms() > 60 and loop.time() < end and not leg.ended.is_set()
           and not other.ended.is_set()):
        await asyncio.sleep(0.02)
