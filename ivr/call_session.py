"""One SIP call through the contact centre, from the bot's greeting to its recorded outcome.

The bot (triage dialog + policy) talks first; on a transfer decision the warm transfer to an
agent runs, or, when nobody can take the call, back to the bot with an apology and a callback
offer. Every event of the call is written to the store as it happens (so a call that ends
abruptly loses nothing already said), counted in the metrics and logged, card numbers masked.
The process-wide parts (store, agents, queue, live policy) are the ContactCenter's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import TYPE_CHECKING

import numpy as np

from calls.events import CallEvent, DecisionEvent, EndEvent, TransferAttemptEvent, TransferEvent
from calls.outcome import Outcome
from ivr.logs import call_context
from nlu.redact import redact_deep
from routing.staffing import WRAP_UP_S, StaffedPool, skill_for
from routing.survey import run_survey
from routing.transfer import State, WarmTransfer

if TYPE_CHECKING:
    from ivr.contact_center import ContactCenter

log = logging.getLogger("ivr")

_STORE_RESULTS = {"unavailable": "busy", "agent_hung_up": "failed"}  # transfer result -> store's word
_OUTCOMES = (Outcome.BOT_RESOLVED, Outcome.TRANSFERRED, Outcome.ABANDONED)  # any other end: the caller hung up


class CallSession:
    """See the module docstring. ``await CallSession(cc, call).run()`` per call, in the call's task."""

    def __init__(self, cc: ContactCenter, call):
        self.cc = cc
        self.call = call
        self.store = cc.store
        self.metrics = cc.metrics
        self.caller = caller_number(call.remote_uri)
        self.call_id: str | None = None
        self.responder = None
        self.attempts: dict[str, str] = {}  # agent id -> the store's transfer attempt, while ringing

    @property
    def policy_version(self) -> int:
        """The policy version live now (it may change during the call: the next decision says so)."""
        return self.cc.policy_version

    async def run(self) -> None:
        self.call_id = self.store.call_started(self.call.call_id, self.caller)
        with call_context(self.call_id):
            await self._talk()

    async def _talk(self) -> None:
        from voice.live_call import run_call

        cc, call, call_id = self.cc, self.call, self.call_id
        cc.active.add(call_id)
        cc._calls[call_id] = call
        cc.total += 1
        self.metrics.call_started(call_id)
        responder = self.responder = cc.engine.responder(cc.bot, caller_id=self.caller)
        if hasattr(responder, "set_policy"):
            responder.set_policy(cc.policy)
        cc._responders.add(responder)
        outcome = Outcome.CALLER_HUNG_UP
        try:
            outcome = await run_call(call, cc.engine, responder, self.on_event, config=cc.voice_config,
                                     on_transfer=self.on_transfer)
        except Exception:
            log.exception("call %s failed", call_id)
            self.store.call_ended(call_id, None, abruptly=True)
            self.metrics.call_ended(call_id, "failed")
            raise
        else:
            outcome = outcome if outcome in _OUTCOMES else Outcome.CALLER_HUNG_UP
            self.store.call_ended(call_id, outcome)
            self.metrics.call_ended(call_id, outcome)
        finally:
            cc._responders.discard(responder)
            cc.active.discard(call_id)
            cc._calls.pop(call_id, None)

    def on_event(self, ev: CallEvent) -> None:
        call_id = self.call_id
        if isinstance(ev, EndEvent):
            return  # the call's end is recorded once, below, with its final outcome
        if isinstance(ev, DecisionEvent):
            ev = dataclasses.replace(ev, policy_version=self.policy_version)
        self.store.record_event(call_id, ev)  # the store redacts card numbers itself
        self.metrics.event(call_id, ev)
        log.info("call %s %s", call_id, json.dumps(redact_deep(ev.to_json())))  # and so do the logs

    def on_transfer_event(self, ev: CallEvent) -> None:
        """A transfer's events, recorded like any other, and its attempts (one per agent rung) too."""
        call_id, attempts = self.call_id, self.attempts
        self.on_event(ev)
        if isinstance(ev, TransferEvent) and ev.state == State.RINGING:
            attempts[ev.agent] = self.store.transfer_attempt_started(call_id, ev.agent)
        if isinstance(ev, TransferAttemptEvent) and ev.agent in attempts:
            result = _STORE_RESULTS.get(ev.result, ev.result)
            self.store.transfer_attempt_finished(attempts.pop(ev.agent), result)

    async def on_transfer(self, leg) -> str:
        """The policy decided on a person: warm transfer, or back to the bot when nobody can take it."""
        from voice.callback import CallbackResponder
        from voice.live_call import run_call

        cc, responder, call_id = self.cc, self.responder, self.call_id
        decision = getattr(responder, "decision", None)
        summary = responder.dialog.summary().to_dict() if hasattr(responder, "dialog") else {}
        reason = decision.reason if decision else "explicit_request"
        if summary:
            summary["escalation_reason"] = reason

        async def tell_caller(message: str) -> None:
            pcm = await cc.speak(message)
            leg.clear_playback()
            leg.play(pcm.astype(np.int16).tobytes())

        pool = StaffedPool(cc.queue, call_id, wrap_up=WRAP_UP_S, on_wait=tell_caller)
        wt = WarmTransfer(
            leg, call_id, summary, reason,
            invite=cc._endpoint.invite, agents=pool,
            desktop=cc.hub, speak=cc.speak, on_event=self.on_transfer_event, transcribe=self.transcribe,
            config=cc.transfer_config, skill=(skill := skill_for(cc.skills, summary.get("intent"))),
            survey=self.survey, survey_on_agent_bye=cc.survey_enabled, handbacks=cc.handbacks,
        )
        result = await wt.run()
        if result.state == State.DONE:
            return Outcome.TRANSFERRED
        if result.state == State.ABANDONED or leg.ended.is_set():
            return Outcome.ABANDONED
        # Nobody could take the call: back to the bot, which apologises and offers a callback.
        back = CallbackResponder(lambda: cc.request_callback(call_id, leg, skill, summary))
        return await run_call(leg, cc.engine, back, self.on_event, config=cc.voice_config)

    async def transcribe(self, q, on_text) -> None:
        """The agent's side of the whisper and the three-way talk, for the live view."""
        from voice.transcriber import transcribe_leg

        await transcribe_leg(q, self.cc.engine.models, on_text)

    async def survey(self, leg) -> None:
        """After the agent hangs up (the --survey setting): the caller's 1-5, stored and counted."""
        await run_survey(leg, self.cc.speak, self.on_event, lambda score: self.store.survey(self.call_id, score))


def caller_number(uri: str) -> str | None:
    """'sip:+15551234567@host' → '+15551234567' (what the company's CRM keys callers by)."""
    user = uri.split(":", 1)[-1].split("@", 1)[0] if "@" in uri else ""
    return user or None
