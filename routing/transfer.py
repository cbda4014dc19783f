"""Warm transfer: a task with explicit states that hands a caller to a person who knows the story.

    HOLD → RINGING (screen pop + INVITE with the summary in headers) → WHISPER (the agent hears a
    headline of a few seconds, the detail being on the screen pop; the caller hears hold audio) → BRIDGED
    (the caller first hears "You're now speaking with <first name>"; both keep being transcribed to the desktop)
    → HANDED_BACK when the agent passes the caller back to the bot from the desktop (routing.handback)
    ↘ next agent on busy / decline / no answer / agent gone during the whisper
    ↘ BACK_TO_BOT when nobody could take the call; ABANDONED when the caller hangs up first.

Every step is reported through `on_event` (stored by the caller of this module), so a transfer
that fails is never silent.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

import numpy as np

from calls.events import CallEvent, LiveTranscriptEvent, TransferAttemptEvent, TransferEvent
from nlu.summary import headline
from routing.handback import HANDBACK_PROMPT, HandbackDesk, bridge_intro
from routing.hold_audio import hold_loop

log = logging.getLogger(__name__)

SUMMARY_HEADER_MAX = 200  # a SIP header stays well inside a UDP datagram


class State(str, enum.Enum):
    HOLD = "hold"
    RINGING = "ringing"
    WHISPER = "whisper"
    BRIDGED = "bridged"
    HANDED_BACK = "handed_back"
    REFERRING = "referring"
    DONE = "done"
    BACK_TO_BOT = "back_to_bot"
    ABANDONED = "abandoned"


class AgentPool(Protocol):
    """Who can take the call (the queue): reserve an agent (now ringing), and give them back."""

    async def acquire(self, skill: str | None, exclude: set[str], timeout: float) -> Any | None: ...

    def release(self, agent: Any, state: str) -> None: ...


class Desktop(Protocol):
    def pop(self, agent_id: str, payload: dict) -> None: ...

    def transcript(self, agent_id: str, call_id: str, speaker: str, text: str) -> None: ...


@dataclass
class TransferConfig:
    ring_timeout_s: float = 20.0
    max_attempts: int = 3
    wait_for_agent_s: float = 60.0
    whisper: bool = True
    # After the whisper, hand the caller's phone to the agent's by REFER with Replaces (RFC 5589)
    # when the caller's side says it supports Replaces; the bridge remains the fallback.
    refer_when_supported: bool = False
    pbx: Any = None  # a routing.pbx_handoff.PbxHandoffConfig: hand every call to the company's PBX queue
    hold_pcm: np.ndarray = field(default_factory=hold_loop)


@dataclass
class Attempt:
    agent_id: str
    started: float
    result: str = "ringing"  # answered, busy, declined, no_answer, failed, agent_hung_up, cancelled
    answered_after_s: float | None = None


@dataclass
class TransferResult:
    state: State
    agent_id: str | None
    attempts: list[Attempt]
    time_to_bridge_s: float | None = None


def summary_headers(call_id: str, reason: str, summary: dict) -> list[tuple[str, str]]:
    """The hand-off summary as SIP headers the agent's phone (or PBX) can show."""
    text = " ".join(str(summary.get("paragraph", "")).split())
    if len(text) > SUMMARY_HEADER_MAX:
        text = text[: SUMMARY_HEADER_MAX - 1] + "…"
    intent = summary.get("intent") or "unknown"
    return [
        ("X-IVR-Call-ID", call_id),
        ("X-IVR-Reason", reason),
        ("X-IVR-Intent", str(intent)),
        ("X-IVR-Summary", text.replace("\r", " ").replace("\n", " ")),
    ]


def supports_replaces(call) -> bool:
    """The caller's INVITE said `Supported: replaces` (RFC 3891), so its phone can be re-pointed."""
    headers = getattr(call, "headers", None) or {}
    values = [v for k, v in headers.items() if k.lower() in ("supported", "k")]  # "k" is its compact form
    tokens = {t.strip().lower() for v in values if v for t in str(v).split(",")}
    return "replaces" in tokens


def whisper_text(summary: dict, reason: str) -> str:
    """What the agent hears before the caller is put through: a headline of at most ~4 s
    ("Stolen card, caller upset, verified account holder."). The caller is on hold while it
    plays, and the screen pop already carries the detail; reading the whole paragraph kept a
    stolen-card caller waiting ~18 s."""
    return headline(summary, reason)


class WarmTransfer:
    def __init__(
        self,
        caller,  # telephony Call
        call_id: str,
        summary: dict,
        reason: str,
        *,
        invite: Callable[..., Awaitable[Any]],  # SipEndpoint.invite
        agents: AgentPool,
        desktop: Desktop,
        speak: Callable[[str], Awaitable[np.ndarray]],  # text → 8 kHz PCM
        on_event: Callable[[CallEvent], None],
        transcribe: Callable[[asyncio.Queue, Callable], Awaitable[None]] | None = None,
        config: TransferConfig | None = None,
        skill: str | None = None,
        survey: Callable[[Any], Awaitable[None]] | None = None,
        survey_on_agent_bye: bool = True,
        handbacks: HandbackDesk | None = None,
    ):
        self.caller = caller
        self.call_id = call_id
        self.summary = summary
        self.reason = reason
        self._invite = invite
        self._agents = agents
        self._desktop = desktop
        self._speak = speak
        self._emit = on_event
        self._transcribe = transcribe
        self.config = config or TransferConfig()
        self.skill = skill
        self._survey = survey  # after a hand-back (and, with survey_on_agent_bye, the agent's BYE) the caller rates the call
        self._survey_on_bye = survey_on_agent_bye
        self._handbacks = handbacks  # where the desktop's hand-back finds this bridge
        self._intro: dict[str, asyncio.Future] = {}  # agent id -> "You're now speaking with ..." being synthesized
        self.state = State.HOLD
        self.attempts: list[Attempt] = []
        self.bridge = None
        self._hold_task: asyncio.Task | None = None
        self._whisper_task: asyncio.Future | None = None
        self._t0 = time.monotonic()

    def _set(self, state: State, **extra) -> None:
        self.state = state
        self._emit(TransferEvent(state=state.value, **extra))

    # -- hold audio on the caller's leg before a bridge exists --------------------------------
    async def _hold_loop(self) -> None:
        """Keep ~400 ms of hold audio queued on the caller's leg: no gap can open up."""
        pcm = self.config.hold_pcm
        pos, chunk = 0, 3200  # 400 ms at 8 kHz
        while True:
            if self.caller.playback_queued_ms() < 250:
                piece = np.take(pcm, range(pos, pos + chunk), mode="wrap")
                pos = (pos + chunk) % len(pcm)
                self.caller.play(piece.astype(np.int16).tobytes())
            await asyncio.sleep(0.05)

    def _start_hold(self) -> None:
        if self._hold_task is None:
            self._hold_task = asyncio.create_task(self._hold_loop())

    async def _stop_hold(self) -> None:
        if self._hold_task is not None:
            self._hold_task.cancel()
            try:
                await self._hold_task
            except asyncio.CancelledError:
                pass
            self._hold_task = None

    # -- the task ------------------------------------------------------------------------------
    async def run(self) -> TransferResult:
        self._set(State.HOLD, reason=self.reason)
        self._start_hold()
        if self.config.pbx is not None:  # the company's own ACD takes it (routing.pbx_handoff)
            return await self._to_pbx()
        caller_gone = asyncio.create_task(self.caller.ended.wait())
        tried: set[str] = set()
        try:
            for _ in range(self.config.max_attempts):
                agent = await self._race(
                    self._agents.acquire(self.skill, tried, self.config.wait_for_agent_s), caller_gone
                )
                if agent is _GONE:
                    return self._abandoned()
                if agent is None:
                    break
                tried.add(agent.id)
                outcome = await self._try_agent(agent, caller_gone)
                if outcome is not None:
                    return outcome
            return await self._back_to_bot()
        finally:
            caller_gone.cancel()
            if self._whisper_task is not None and not self._whisper_task.done():
                self._whisper_task.cancel()
            for task in self._intro.values():
                task.cancel()
            await self._stop_hold()

    async def _to_pbx(self) -> TransferResult:
        from routing.pbx_handoff import hand_to_pbx

        try:
            how, elapsed = await hand_to_pbx(self.caller, self.call_id, self.summary, self.reason, self.config.pbx,
                                             invite=self._invite, hub=self._desktop, on_event=self._emit,
                                             extra_headers=summary_headers(self.call_id, self.reason, self.summary),
                                             before_bridge=self._stop_hold)
        finally:
            await self._stop_hold()
        if how == "done":
            return TransferResult(State.DONE, None, self.attempts, elapsed)
        return self._abandoned() if how == "abandoned" else await self._back_to_bot()

    async def _race(self, aw, caller_gone: asyncio.Task):
        task = asyncio.ensure_future(aw)
        done, _ = await asyncio.wait({task, caller_gone}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()  # the caller left: stop ringing (the INVITE is CANCELled) / leave the queue
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        return _GONE

    async def _try_agent(self, agent, caller_gone: asyncio.Task) -> TransferResult | None:
        from telephony import Bridge, CallFailed

        attempt = Attempt(agent.id, time.monotonic())
        self.attempts.append(attempt)
        ring_at = time.time()
        self._desktop.pop(agent.id, {"type": "screen_pop", "call_id": self.call_id, "reason": self.reason,
                                     "ringing_since": ring_at, **self.summary})
        self._set(State.RINGING, agent=agent.id)
        self._prepare_whisper()
        self._prepare_intro(agent)
        headers = summary_headers(self.call_id, self.reason, self.summary)
        try:
            leg = await self._race(
                self._invite(agent.contact, headers=headers, ring_timeout=self.config.ring_timeout_s), caller_gone
            )
        except CallFailed as exc:
            attempt.result = _FAILURES.get(exc.status, "failed")
            self._agents.release(agent, "away" if attempt.result == "no_answer" else "available")
            self._emit(TransferAttemptEvent(agent=agent.id, result=attempt.result, status=exc.status))
            return None
        except OSError as exc:
            attempt.result = "failed"
            self._agents.release(agent, "away")
            self._emit(TransferAttemptEvent(agent=agent.id, result="failed", error=str(exc)))
            return None
        if leg is _GONE:
            attempt.result = "cancelled"
            self._agents.release(agent, "available")
            self._emit(TransferAttemptEvent(agent=agent.id, result="cancelled"))
            return self._abandoned()
        attempt.answered_after_s = time.monotonic() - attempt.started
        self._agents.release(agent, "on_call")
        # Whisper: the agent hears the headline at once (synthesized while the phone rang), while
        # the caller's hand-off line plays out and then hold audio loops: the two overlap, so
        # the caller waits for the longer of them, not their sum.
        whisper = await self._whisper_pcm() if self.config.whisper else None
        if whisper is not None:
            self._set(State.WHISPER, agent=agent.id)
            leg.play(whisper.astype(np.int16).tobytes())
        await self._stop_hold()
        await self._caller_drained()  # the hand-off line (rung during it) is not cut short
        bridge = Bridge(self.caller, leg, joined=False, hangup_together=False)
        self.bridge = bridge
        bridge.hold(self.caller, self.config.hold_pcm.tobytes())
        bridge.start()
        if whisper is not None:
            played = asyncio.create_task(self._agent_drained(leg))
            agent_gone = asyncio.create_task(leg.ended.wait())
            done, _ = await asyncio.wait({played, agent_gone, caller_gone}, return_when=asyncio.FIRST_COMPLETED)
            played.cancel()
            agent_gone.cancel()
            if caller_gone in done:
                await bridge.stop()
                await leg.hangup()
                attempt.result = "cancelled"
                self._agents.release(agent, "wrap_up")
                return self._abandoned()
            if leg.ended.is_set():
                await bridge.stop()
                attempt.result = "agent_hung_up"
                self._agents.release(agent, "available")
                self._emit(TransferAttemptEvent(agent=agent.id, result="agent_hung_up"))
                self.bridge = None
                self._start_hold()
                return None
        attempt.result = "answered"
        if self.config.refer_when_supported and supports_replaces(self.caller):
            await bridge.stop()
            self._set(State.REFERRING, agent=agent.id)
            try:
                referred = await self.caller.refer(leg, timeout=self.config.ring_timeout_s)
            except Exception as exc:  # a peer that mishandles REFER falls back to our bridge
                log.warning("REFER with Replaces failed (%s); bridging instead", exc)
                referred = None
            if referred is not None and referred.ok:
                elapsed = time.monotonic() - self._t0
                self._emit(TransferAttemptEvent(agent=agent.id, result="answered",
                                                answered_after_s=round(attempt.answered_after_s, 3), mode="refer"))
                self._set(State.DONE, agent=agent.id, time_to_bridge_s=round(elapsed, 3), mode="refer")
                self._agents.release(agent, "on_call")
                return TransferResult(State.DONE, agent.id, self.attempts, elapsed)
            bridge = Bridge(self.caller, leg, joined=False, hangup_together=False)
            self.bridge = bridge
            bridge.start()
        bridge.hold(self.caller, None)
        intro = await self._introduce(agent)  # split: the caller hears the agent's name alone, then the two talk
        bridge.join()
        elapsed = time.monotonic() - self._t0
        self._emit(TransferAttemptEvent(agent=agent.id, result="answered",
                                        answered_after_s=round(attempt.answered_after_s, 3)))
        self._set(State.BRIDGED, agent=agent.id, time_to_bridge_s=round(elapsed, 3), intro=intro)
        if self._transcribe is not None:
            for label, who in ((self.caller, "caller"), (leg, "agent")):
                q = bridge.tap(label)
                asyncio.create_task(self._transcribe(q, self._line(agent.id, who)))
        asked = await self._until_bridge_over(bridge, agent.id)
        handle_s = round(time.monotonic() - attempt.started - (attempt.answered_after_s or 0.0), 3)
        await bridge.stop()
        ended = bridge.end_reason
        if asked is not None:
            ended = State.HANDED_BACK.value
            await leg.hangup()  # the agent's leg leaves; the caller stays, with the bot
            self._set(State.HANDED_BACK, agent=agent.id, handle_s=handle_s)
        agent_left = (bridge.end_reason or "").startswith("agent")
        if not self.caller.ended.is_set() and (asked is not None or (agent_left and self._survey_on_bye)):
            await self._bot_again(handed_back=asked is not None)
        for c in (self.caller, leg):
            if not c.ended.is_set():
                await c.hangup()
        self._agents.release(agent, "wrap_up")
        self._set(State.DONE, agent=agent.id, ended=ended, handle_s=handle_s)
        return TransferResult(State.DONE, agent.id, self.attempts, elapsed)

    async def _until_bridge_over(self, bridge, agent_id: str):
        """Until either leg hangs up, or the agent hands the caller back (the `Handback`, else None)."""
        if self._handbacks is None:
            await bridge.wait()
            return None
        asked = asyncio.ensure_future(self._handbacks.open(agent_id, self.call_id).wait())
        over = asyncio.ensure_future(bridge.wait())
        try:
            await asyncio.wait({asked, over}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # cancelled too (shutdown): the desk never keeps a bridge that is gone
            asked.cancel()
            over.cancel()
            handback = self._handbacks.close(agent_id, self.call_id)
        return handback

    async def _bot_again(self, *, handed_back: bool) -> None:
        """The bot has the caller back: after a hand-back it says why, then the survey runs."""
        try:
            if handed_back:
                pcm = await self._speak(HANDBACK_PROMPT)
                self.caller.clear_playback()
                self.caller.play(pcm.astype(np.int16).tobytes())
                await self._caller_drained()
            if self._survey is not None and not self.caller.ended.is_set():
                await self._survey(self.caller)
        except Exception:  # a failed survey must not spoil a finished transfer
            log.exception("post-call survey failed")

    def _prepare_intro(self, agent) -> None:
        """Synthesize "You're now speaking with <first name>" while the agent's phone rings."""
        text = bridge_intro(getattr(agent, "name", None))
        if text and agent.id not in self._intro:
            self._intro[agent.id] = asyncio.ensure_future(self._speak(text))

    async def _introduce(self, agent) -> str | None:
        """Play the agent's introduction to the caller; the line played (None when none was)."""
        task = self._intro.pop(agent.id, None)
        for other in self._intro.values():
            other.cancel()
        self._intro.clear()
        if task is None:
            return None
        try:
            pcm = await task
        except Exception:  # no voice for the name: put the caller through without it
            log.exception("bridge introduction synthesis failed")
            return None
        self.caller.clear_playback()
        self.caller.play(pcm.astype(np.int16).tobytes())
        await self._caller_drained()
        return bridge_intro(getattr(agent, "name", None))

    async def _caller_drained(self, limit_s: float = 10.0) -> None:
        """Until what the caller was hearing (the hand-off line) has nearly played out."""
        loop = asyncio.get_running_loop()
        end = loop.time() + limit_s
        while self.caller.playback_queued_ms() > 100 and loop.time() < end and not self.caller.ended.is_set():
            await asyncio.sleep(0.02)

    async def _agent_drained(self, leg) -> None:
        """Until the whisper queued on the agent's leg has been sent (the agent has heard it)."""
        while leg.playback_queued_ms() > 0 and not leg.ended.is_set():
            await asyncio.sleep(0.02)

    def _prepare_whisper(self) -> None:
        """Synthesize the whisper while the first agent's phone rings: it is ready on answer."""
        if self.config.whisper and self._whisper_task is None:
            self._whisper_task = asyncio.ensure_future(self._speak(whisper_text(self.summary, self.reason)))

    async def _whisper_pcm(self) -> np.ndarray | None:
        self._prepare_whisper()
        try:
            return await asyncio.shield(self._whisper_task)
        except asyncio.CancelledError:
            raise
        except Exception:  # no voice for the whisper: put the caller through without it
            log.exception("whisper synthesis failed")
            return None

    def _line(self, agent_id: str, speaker: str):
        def on_text(text: str, start: float, end: float) -> None:
            self._desktop.transcript(agent_id, self.call_id, speaker, text)
            self._emit(LiveTranscriptEvent(speaker=speaker, text=text))

        return on_text

    def _abandoned(self) -> TransferResult:
        self._set(State.ABANDONED)
        return TransferResult(State.ABANDONED, None, self.attempts)

    async def _back_to_bot(self) -> TransferResult:
        self._set(State.BACK_TO_BOT, tried=[a.agent_id for a in self.attempts])
        return TransferResult(State.BACK_TO_BOT, None, self.attempts)


_FAILURES = {486: "busy", 600: "busy", 603: "declined", 408: "no_answer", 480: "no_answer", 503: "unavailable"}


class _Gone:
    def __repr__(self) -> str:
        return "<caller gone>"


_GONE = _Gone()
