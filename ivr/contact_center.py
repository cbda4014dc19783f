"""The service's routing side, composed: store, policy hot-reload, agents, queue, desktop, transfers.

`ivr serve` builds one ContactCenter; each SIP call goes through `handle_call`: the bot (triage
dialog + policy), and on a transfer decision the warm transfer to an agent, or back to the bot
with an apology and a callback offer. Every event of the call is written to the store as it
happens, so a call that ends abruptly loses nothing already said.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets
import numpy as np

from calls.events import (CallEvent, DecisionEvent, EndEvent, SurveyEvent, SurveyStartedEvent, TransferAttemptEvent,
                          TransferEvent)
from nlu.redact import redact
from routing.agents import AgentDirectory
from web.prometheus import CallMetrics
from routing.queue import CallQueue, QueuePool
from routing.screenpop import ScreenPopHub
from store import Store
from routing.transfer import State, TransferConfig, WarmTransfer

log = logging.getLogger("ivr")

# Which agents can take which calls; intents with no skill go to anyone.
INTENT_SKILLS = {
    "billing_dispute": "billing",
    "refund": "billing",
    "account_balance": "billing",
    "cancel_service": "billing",
    "fraud_stolen_card": "fraud",
    "order_status": "orders",
    "technical_problem": "tech",
}
WRAP_UP_S = 5.0
SURVEY_PROMPT = "Before you go: how did we do? Press a key from 1 to 5, where 5 is excellent."
SURVEY_THANKS = "Thank you. Goodbye."
SURVEY_WAIT_S = 8.0
_STORE_RESULTS = {"unavailable": "busy", "agent_hung_up": "failed"}


class StaffedPool(QueuePool):
    """The queue as the transfer sees it, with two rules for the caller's sake: a skill nobody has
    falls back to anyone, and when nobody at all is signed in the caller does not wait for no one.
    While waiting, the caller hears their position and the expected wait."""

    def __init__(self, queue: CallQueue, call_ref: str, *, wrap_up: float, on_wait=None):
        super().__init__(queue, call_ref, wrap_up=wrap_up)
        self.on_wait = on_wait

    async def acquire(self, skill, exclude=(), timeout=None):
        directory = self.queue.directory
        if skill and not directory.staffed(skill):
            skill = None
        if not directory.staffed(skill):
            return None
        task = asyncio.ensure_future(super().acquire(skill, exclude, timeout))
        await asyncio.sleep(0)  # let the call join the queue before asking its position
        if not task.done() and self.on_wait is not None:
            message = self.queue.announcement(self.call_ref, with_callback=False)
            if message:
                await self.on_wait(message)
        return await task


class ContactCenter:
    def __init__(self, engine, store: Store, directory: AgentDirectory, *, secret: str | None = None,
                 transfer: TransferConfig | None = None, bot: str = "triage", survey: bool = False,
                 voice=None):
        self.engine = engine
        self.voice_config = voice  # voice.call.VoiceConfig for the bot's calls (None: defaults)
        self.store = store
        self.directory = directory
        self.queue = CallQueue(directory)
        self.hub = ScreenPopHub()
        self.hub.follow(directory)
        self.secret = secret or secrets.token_hex(16)
        self.transfer_config = transfer or TransferConfig()
        self.bot = bot
        self.survey_enabled = survey
        self.active: set[str] = set()
        self._calls: dict[str, object] = {}  # call id → its SIP call, while handle_call runs
        self.total = 0
        self.metrics = CallMetrics()
        self._responders: set = set()
        version, policy = store.current_policy()
        self.policy, self.policy_version = policy, version
        self.metrics.policy_version.set(version)
        store.on_policy_change(self._policy_changed)

    def _policy_changed(self, version: int, policy) -> None:
        """A new policy version reaches every call in progress from its next turn."""
        self.policy, self.policy_version = policy, version
        self.metrics.policy_version.set(version)
        self.engine.policy = policy
        for r in list(self._responders):
            if hasattr(r, "set_policy"):
                r.set_policy(policy)
        log.info("policy version %d is live", version)

    async def speak(self, text: str) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.engine.models.tts_pool, self.engine.models.synthesize_all, text, 8000)

    async def run_survey(self, leg, call_id: str, on_event) -> None:
        """The caller rates the call 1-5 by DTMF after the agent hangs up; stored and counted."""
        while not leg.dtmf.empty():
            leg.dtmf.get_nowait()
        prompt = await self.speak(SURVEY_PROMPT)
        leg.play(prompt.astype(np.int16).tobytes())
        on_event(SurveyStartedEvent())
        deadline = asyncio.get_running_loop().time() + len(prompt) / 8000 + SURVEY_WAIT_S
        score = None
        while score is None:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                digit = await asyncio.wait_for(leg.dtmf.get(), left)
            except asyncio.TimeoutError:
                break
            if digit in "12345":
                score = int(digit)
        on_event(SurveyEvent(score=score))
        if score is not None:
            self.store.survey(call_id, score)
            leg.clear_playback()
            thanks = await self.speak(SURVEY_THANKS)
            leg.play(thanks.astype(np.int16).tobytes())
            await asyncio.sleep(len(thanks) / 8000 + 0.2)  # let the caller hear it before the BYE

    async def handle_call(self, call) -> None:
        from ivr.callback import CallbackResponder
        from ivr.live_call import run_call
        from voice.transcriber import transcribe_leg

        caller = _caller_number(call.remote_uri)
        call_id = self.store.call_started(call.call_id, caller)
        self.active.add(call_id)
        self._calls[call_id] = call
        self.total += 1
        self.metrics.call_started(call_id)
        responder = self.engine.responder(self.bot, caller_id=caller)
        if hasattr(responder, "set_policy"):
            responder.set_policy(self.policy)
        self._responders.add(responder)
        attempts: dict[str, str] = {}

        def on_event(ev: CallEvent) -> None:
            if isinstance(ev, EndEvent):
                return  # the call's end is recorded once, below, with its final outcome
            if isinstance(ev, DecisionEvent):
                ev = dataclasses.replace(ev, policy_version=self.policy_version)
            self.store.record_event(call_id, ev)  # the store redacts card numbers itself
            self.metrics.event(call_id, ev)
            log.info("call %s %s", call_id, redact(json.dumps(ev.to_json())))  # and so do the logs

        async def on_transfer(leg) -> str:
            decision = getattr(responder, "decision", None)
            summary = responder.dialog.summary().to_dict() if hasattr(responder, "dialog") else {}
            reason = decision.reason if decision else "explicit_request"
            if summary:
                summary["escalation_reason"] = reason

            def transfer_event(ev: CallEvent) -> None:
                on_event(ev)
                if isinstance(ev, TransferEvent) and ev.state == State.RINGING:
                    attempts[ev.agent] = self.store.transfer_attempt_started(call_id, ev.agent)
                if isinstance(ev, TransferAttemptEvent) and ev.agent in attempts:
                    result = _STORE_RESULTS.get(ev.result, ev.result)
                    self.store.transfer_attempt_finished(attempts.pop(ev.agent), result)

            async def transcribe(q, on_text):
                await transcribe_leg(q, self.engine.models, on_text)

            async def tell_caller(message: str) -> None:
                pcm = await self.speak(message)
                leg.clear_playback()
                leg.play(pcm.astype(np.int16).tobytes())

            pool = StaffedPool(self.queue, call_id, wrap_up=WRAP_UP_S, on_wait=tell_caller)
            wt = WarmTransfer(
                leg, call_id, summary, reason,
                invite=self._endpoint.invite, agents=pool,
                desktop=self.hub, speak=self.speak, on_event=transfer_event, transcribe=transcribe,
                config=self.transfer_config, skill=INTENT_SKILLS.get(summary.get("intent") or ""),
                survey=(lambda c: self.run_survey(c, call_id, on_event)) if self.survey_enabled else None,
            )
            result = await wt.run()
            if result.state == State.DONE:
                return "transferred"
            if result.state == State.ABANDONED or leg.ended.is_set():
                return "abandoned"
            # Nobody could take the call: back to the bot, which apologises and offers a callback.
            back = CallbackResponder(lambda: self.store.add_callback(call_id, caller or leg.remote_uri))
            return await run_call(leg, self.engine, back, on_event, config=self.voice_config)

        outcome = "caller_hung_up"
        try:
            outcome = await run_call(call, self.engine, responder, on_event, config=self.voice_config, on_transfer=on_transfer)
        except Exception:
            log.exception("call %s failed", call_id)
            self.store.call_ended(call_id, None, abruptly=True)
            self.metrics.call_ended(call_id, "failed")
            raise
        else:
            outcome = outcome if outcome in ("bot_resolved", "transferred", "abandoned") else "caller_hung_up"
            self.store.call_ended(call_id, outcome)
            self.metrics.call_ended(call_id, outcome)
        finally:
            self._responders.discard(responder)
            self.active.discard(call_id)
            self._calls.pop(call_id, None)

    def draining(self) -> int:
        """Calls whose caller has hung up but whose pipeline is still finishing (the last turns
        being transcribed for the record). A few is normal; many means the speech models cannot
        keep up, and new calls are better sent to another worker."""
        return sum(1 for c in self._calls.values() if c.ended.is_set())

    def disposition(self, agent_id: str, msg: dict) -> str | None:
        """An agent's verdict on a call they took, from the desktop; an error line, or None when saved."""
        from store.accounts import AccountError

        call_id = str(msg.get("call_id") or "")
        call = self.store.get_call(call_id) if call_id else None
        if call is None:
            return f"no call {call_id!r}"
        if call.get("agent") != agent_id:
            return "only the agent who took the call can file its disposition"
        right = msg.get("escalation_right")
        if not isinstance(right, bool):
            return "escalation_right: must be true or false"
        frustrated = msg.get("caller_frustrated")
        note = msg.get("note")
        try:
            self.store.accounts.add_disposition(
                call_id, agent_id, escalation_right=right,
                caller_frustrated=frustrated if isinstance(frustrated, bool) else None,
                reason_tag=str(msg.get("reason_tag")), note=note if isinstance(note, str) and note else None)
        except AccountError as exc:
            return str(exc)
        return None

    def attach(self, endpoint) -> None:
        self._endpoint = endpoint


def _caller_number(uri: str) -> str | None:
    """'sip:+15551234567@host' → '+15551234567' (what the company's CRM keys callers by)."""
    user = uri.split(":", 1)[-1].split("@", 1)[0] if "@" in uri else ""
    return user or None
