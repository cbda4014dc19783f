"""The bot of a real call: the NLU's triage dialog, with the escalation policy deciding transfers.

This is where nlu (what the caller wants, how they feel, what to say) meets routing (when a
person takes over). The dialog's own frustration hand-over is switched off so that the policy
file is the one place that decides on frustration; the dialog's limits on not-understood turns
follow the policy's.

The policy acts on the intent the dialog accepted (``BotReply.accepted_intent``), never on the
classifier's raw guess: an unsure "speak to human" or "fraud" is confirmed by the dialog first, and
only a "yes" makes it a transfer. The turn event keeps the classifier's ``intent`` and
``confidence`` and adds ``accepted_intent``; ``signals.intent`` is what the policy saw, which the
what-if replay reads.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from calls.events import SummaryEvent
from calls.expectation import Expectation
from calls.outcome import Outcome
from nlu.dialog import CallerTurn, TriageDialog
from nlu.flows import Flows
from routing.policy import Decision, Policy, Signals, decide
from voice.frames import CallerTurnFrame
from voice.processors import Reply


def fixed_prompts(flows: Flows) -> dict[str, str]:
    """Every text the dialog says with no per-call values in it, and every fixed sentence of the
    ones that have them ("Your order has shipped." of "Your order has shipped. The {item} ...");
    synthesized once and played from memory, so most replies start without waiting for Piper."""
    from voice.sentences import split_sentences

    texts: dict[str, str] = {key: flows.say(key) for key in flows.prompts}

    def walk(prefix: str, node) -> None:
        if isinstance(node, str):
            texts[prefix] = flows.say(prefix)
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}", v)

    for name, flow in flows.flows.items():
        walk(name, flow)
    for name, route in flows.intents.items():
        if route.say:
            texts[f"intent.{name}"] = route.say
    out = {}
    for key, text in texts.items():
        if "{" not in text:
            out[key] = text
        else:
            for i, sentence in enumerate(split_sentences(text)):
                if "{" not in sentence:
                    out[f"{key}#{i}"] = sentence
    return {k: v for k, v in out.items() if v.strip()}


class TriageResponder:
    """One call's bot: dialog + policy. `clock()` gives seconds since the call began."""

    def __init__(self, backend, policy: Policy, flows: Flows | None = None, caller_id: str | None = None, clock=None):
        flows = flows or Flows.load()
        # The policy decides on frustration and on repeated no-matches, not the dialog.
        settings = dataclasses.replace(flows.settings, frustration_escalate=2.0, max_no_match=policy.max_no_match)
        self.flows = dataclasses.replace(flows, settings=settings)
        self.dialog = TriageDialog(backend, self.flows, caller_id=caller_id)
        self.dialog.sensitive_intents = frozenset(policy.sensitive_intents)
        self.policy = policy
        self._clock = clock or _Stopwatch()
        self.decision: Decision | None = None
        self.outcome: Outcome | None = None

    def bind_clock(self, clock) -> None:
        """Time with the bot is the call's media time (simulated under `ivr simulate --fast`)."""
        self._clock = clock

    def set_policy(self, policy: Policy) -> None:
        """A new policy version reaches a call in progress from its next turn on."""
        self.policy = policy
        self.dialog.sensitive_intents = frozenset(policy.sensitive_intents)

    def expecting(self) -> Expectation | None:
        """What the bot has just asked the caller for (turn-taking and the keypad read it);
        None once the bot's part of the call is over."""
        if self.decision is not None or self.outcome is not None:
            return None
        return self.dialog.expecting()

    def greeting(self) -> Reply:
        return Reply(self.dialog.start().text)

    def on_turn(self, turn: CallerTurnFrame) -> Reply | None:
        if self.decision is not None or self.outcome is not None:
            return None  # the bot's part of the call is over
        ct = CallerTurn(text=turn.text or "", prosody=turn.prosody or {}, barge_in=turn.barge_in, no_input=turn.no_input,
                        keypad=turn.keypad)
        reply = self.dialog.on_turn(ct)
        fields = self._turn_fields(reply, turn) if not turn.no_input else {"signals": self._signal_fields(reply)}
        return self._apply_policy(reply, fields)

    def prepare(self, text: str) -> None:
        """The transcript at a pause that may end the turn: do the NLU's heavy part ahead (a thread)."""
        self.dialog.nlu.prepare(text)

    def on_dtmf(self, digit: str) -> Reply | None:
        if self.decision is not None or self.outcome is not None:
            return None
        decision = decide(self.policy, self._signals(dtmf=digit))
        if decision is None:
            return None
        return self._transfer(decision, {})

    # -- internals ----------------------------------------------------------------------------
    def _signals(self, *, dtmf: str | None = None, reply=None) -> Signals:
        d = self.dialog
        tier = d.customer.tier if d.customer is not None else None
        return Signals(
            intent=reply.accepted_intent if reply is not None else None,
            frustration=list(d.trajectory.smoothed),
            frustration_raw=list(d.trajectory.raw),
            frustration_parts=list(d.turn_parts),
            no_match=d.no_match_counted,
            no_input=d.no_input,
            dtmf=dtmf,
            bot_seconds=self._clock(),
            tier=tier,
            dialog_escalation=reply.escalate if reply is not None else None,
        )

    def _apply_policy(self, reply, fields: dict) -> Reply:
        decision = decide(self.policy, self._signals(reply=reply))
        if decision is not None and decision.reason == "frustration" and self._leaving_helped(reply):
            # The caller is leaving after the bot did what they called for ("No, that's all.
            # Goodbye." to "anything else?"): a transfer would hold them against their word, and
            # there is nothing left to hand on. The score stays in the turn event and the summary.
            fields = {**fields, "frustration_not_acted_on": "caller left after being helped"}
            decision = None
        if decision is not None:
            return self._transfer(decision, fields, reply)
        if reply.end_call:
            self.outcome = Outcome.ABANDONED if self.dialog.no_input else Outcome.BOT_RESOLVED
            return Reply(reply.text, end_call=True, outcome=self.outcome, turn_fields=fields)
        return Reply(reply.text, turn_fields=fields)

    def _leaving_helped(self, reply) -> bool:
        """The dialog ends the call on the caller's own goodbye (not silence) after it carried out
        something the caller asked for (an order's status told, a reset sent, a balance, an answer)."""
        return bool(reply.end_call and not reply.escalate and self.dialog.no_input == 0 and self.dialog.resolved > 0)

    def _transfer(self, decision: Decision, fields: dict, reply=None) -> Reply:
        self.decision = decision
        self.outcome = Outcome.TRANSFERRED
        # The dialog's own hand-over line fits best when it proposed the hand-over itself.
        text = reply.text if reply is not None and reply.escalate else None
        spoken = self.dialog.hand_over(decision.reason, text=text)
        summary = self.dialog.summary().to_dict()
        summary["escalation_reason"] = decision.reason
        return Reply(
            spoken.text,
            end_call=True,
            outcome=Outcome.TRANSFERRED,
            turn_fields=fields,
            events=[decision.to_event(), SummaryEvent(summary=summary)],
        )

    def _turn_fields(self, reply, turn: CallerTurnFrame) -> dict[str, Any]:
        d = self.dialog
        parts = d.last_contributions
        frustration: dict[str, Any] = {
            "score": round(d.trajectory.raw[-1], 3) if d.trajectory.raw else 0.0,
            "smoothed": round(d.trajectory.current, 3),
        }
        if parts:
            frustration["parts"] = parts
        fields = {
            "intent": reply.intent,
            "confidence": reply.confidence,
            "accepted_intent": reply.accepted_intent,
            "entities": reply.entities,
            "frustration": frustration,
            "signals": self._signal_fields(reply),
        }
        if reply.caller_text is not None:  # a keyed entry, a masked PIN: never the raw text
            fields["text"] = reply.caller_text
        if turn.keypad:
            fields["keypad"] = True
        return fields

    def _signal_fields(self, reply) -> dict[str, Any]:
        """What the policy saw besides frustration (the accepted intent among it), so a what-if can
        replay the call."""
        s = self._signals(reply=reply)
        return {"intent": s.intent, "no_match": s.no_match, "no_input": s.no_input, "bot_seconds": round(s.bot_seconds, 2),
                "tier": s.tier, "dialog_escalation": s.dialog_escalation}


class _Stopwatch:
    def __init__(self):
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self._t0
