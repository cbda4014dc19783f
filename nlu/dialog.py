"""The bot-first triage dialog: a state machine from caller turns to bot replies.

``TriageDialog.start()`` greets; ``on_turn(CallerTurn)`` returns the next
``BotReply``. No audio, no clock, no network: the only edges are the
``Backend`` (the company's data) and ``Understanding`` (the models), both
injected, so the dialog is tested by scripting turns. Every reply carries the
turn's intent, entities and smoothed frustration, the intent the dialog
accepted (the policy acts on that one, not on the classifier's guess), and an
``escalate`` reason when the bot hands the call to a person; the routing
policy decides what to do with it.

This module keeps the state, the public face, the scoring of each turn and the
routing of a turn to its state's handler; the handlers live by concern, mixed
in: taking numbers (nlu/slot_filling.py), checking who the caller is
(nlu/verification.py), carrying out the request (nlu/fulfilment.py), and the
goodbye and the offer of a person (nlu/offer_and_goodbye.py), and the keypad where the voice
failed (nlu/keypad_fallback.py). No destructive
action on a guess: a request for a person that names none, or is unsure, is
confirmed; so is an unsure sensitive intent.

``expecting()`` says what the bot has just asked for (an order number, an
account, a PIN or date, a yes or no), for turn-taking and the keypad.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from calls.expectation import Expectation

from .backend import Backend, Customer
from .evidence import names_a_person
from .flows import Flows, last_question
from .frustration_text import TextCues
from .fulfilment import Fulfilment
from .fusion import DialogueSignals, FrustrationWeights, Trajectory, turn_features
from .intents import OUT_OF_SCOPE
from .keypad_fallback import YES_NO_KEYS, YES_NO_STATES, KeypadFallback
from .offer_and_goodbye import OfferAndGoodbye
from .redact import PIN_MASK
from .slot_filling import SlotFilling
from .speaking import say_amount, say_date, say_digits, say_email
from .spoken_numbers import digits_only
from .summary import HandoffSummary, Step, build_summary
from .turns import (
    ANYTHING_ELSE,
    ASK_INTENT,
    COLLECT,
    CONFIRM_INTENT,
    CONFIRM_SLOT,
    ENDED,
    ESCALATED,
    FAILED_STEPS,
    KEYPAD_PREFIX,
    META_INTENTS,
    OFFER_HUMAN,
    VERIFY,
    BotReply,
    CallerTurn,
    as_recorded,
    keyed_digits,
)
from .understanding import Analysis, Understanding
from .verification import Verification

NO_INPUT_TEXT = "[no input]"  # the caller's line in the transcript for a silence the bot prompted on
# Questions answered with a value or a yes or no: saying the same answer to one asked again is
# answering it. A need said again ("How can I help?", "anything else?") is still repetition.
ANSWER_STATES = (COLLECT, VERIFY, CONFIRM_SLOT, CONFIRM_INTENT, OFFER_HUMAN)

# Names callers have imported from here since before the split (ivr/triage.py, nlu/__init__.py).
__all__ = [
    "ANYTHING_ELSE", "ASK_INTENT", "COLLECT", "CONFIRM_INTENT", "CONFIRM_SLOT", "ENDED", "ESCALATED",
    "KEYPAD_PREFIX", "META_INTENTS", "OFFER_HUMAN", "VERIFY", "BotReply", "CallerTurn", "TriageDialog",
    "say_amount", "say_date", "say_digits", "say_email",
]


class TriageDialog(SlotFilling, Verification, Fulfilment, OfferAndGoodbye, KeypadFallback):
    """One call's triage conversation (not thread-safe; one instance per call)."""

    def __init__(
        self,
        backend: Backend,
        flows: Flows | None = None,
        understanding: Understanding | None = None,
        weights: FrustrationWeights | None = None,
        caller_id: str | None = None,
    ) -> None:
        self.backend = backend
        self.flows = flows or Flows.load()
        self.nlu = understanding or Understanding()
        self.weights = weights or FrustrationWeights.load()
        self.cfg = self.flows.settings
        self.state = ASK_INTENT
        self.flow: str | None = None  # intent whose flow is running
        self.slot: str | None = None  # "order_number", "account", "verify"
        self.slots: dict[str, Any] = {}
        self.attempts: dict[str, int] = {}
        self.pending_intent: str | None = None
        self.customer: Customer | None = None
        self.verified = False
        self.no_match = 0
        self.no_input = 0
        self.no_progress = 0
        self.barge_ins = 0
        self.offered_human = False
        self.declined_for: set[str] = set()  # slots whose offer of a person the caller turned down
        self.resolved = 0  # requests the bot has carried out to the end (status told, reset sent...)
        self.menu_offered = False  # the keypad menu (nlu/keypad_fallback.py): once per call
        self.menu_open = False  # it was the last question: its keys answer it
        self.keyed_asked: frozenset[str] = frozenset()  # numbers the caller was asked to key in
        self.goodbyes = 0  # goodbyes not taken (asked "anything else?" instead): the next one ends the call
        # Digits of a number the caller began and has not finished ("four five", then a pause
        # longer than the turn's silence): the next turn, if it is digits only, continues it.
        self.partial = ""
        self._held = False  # a partial was held for this question: another short number is a failure
        self._carried = ""  # this turn's view of `partial` (cleared for every turn)
        self.unclear_confirms = 0  # answers to the current "Is that right?" that were neither yes nor no
        self._resume: str | None = None  # the slot a "no" to the offer of a person asks for again
        # Intents the policy hands to a person (TriageResponder sets the policy's sensitive_intents);
        # with the human-only flows, an unsure reading of one is confirmed before anything happens.
        self.sensitive_intents: frozenset[str] = frozenset()
        self._accepted: str | None = None  # set while routing a turn: the intent acted on
        self._doubted = False  # this turn's intent was not taken at face value
        self._caller_text: str | None = None
        self.escalation: str | None = None
        self.intents: list[str] = []
        self.steps: list[Step] = []
        self.transcript: list[tuple[str, str]] = []
        self.trajectory = Trajectory(alpha=self.weights.ema_alpha)
        self.last_contributions: dict[str, float] = {}
        self.turn_parts: list[dict[str, float]] = []  # one per trajectory point: that turn's parts
        self._embeddings: list[Any] = []
        self._last_prompt = ""
        self._last_reply: BotReply | None = None
        self._kb_vectors: tuple[list[str], Any] | None = None
        if caller_id:
            self.customer = backend.customer_by_phone(caller_id)

    # ------------------------------------------------------------- public

    def start(self) -> BotReply:
        """The greeting."""
        return self._reply(self.flows.say("greeting"), state=ASK_INTENT)

    def on_turn(self, turn: CallerTurn) -> BotReply:
        """Advance the conversation by one caller turn."""
        if self.state in (ENDED, ESCALATED) and self._last_reply is not None:
            return self._last_reply
        if turn.barge_in:
            self.barge_ins += 1
        self._accepted, self._doubted, self._caller_text = None, False, None
        if turn.no_input or not turn.text.strip():
            return self._on_silence(turn)
        self.no_input = 0
        self._carried, self.partial = self.partial, ""  # kept only if this turn continues it
        secret = self.state == VERIFY  # the answer to "your PIN or date of birth"
        shown = as_recorded(turn, secret)
        self._caller_text = shown if shown != turn.text else None
        self.transcript.append(("caller", shown))
        if turn.keypad and self.state in (COLLECT, VERIFY):
            return self._on_keypad(keyed_digits(turn), turn)
        if turn.keypad:
            return self._on_keyed_choice(keyed_digits(turn), turn)
        if self.menu_open:
            said = digits_only(turn.text)
            if said is not None and len(said) == 1:
                return self._on_keyed_choice(said, turn)  # "Three." to the menu: its key, said
            self.menu_open = False  # said, not keyed: the menu's keys are closed
        a = self.nlu.analyse(turn.text, self._embeddings)
        if a.embedding is not None:
            self._embeddings.append(a.embedding)
        signals = DialogueSignals(self.no_match, self.no_input, turn.barge_in, self.no_progress)
        cues = a.cues
        if self.state in ANSWER_STATES and cues.repetition:
            # Asked for a number (or a yes or no) again, the caller gives the same answer again:
            # that is doing as asked, not saying it again because the bot is not listening.
            # The re-ask already counts in the dialogue signals.
            cues = dataclasses.replace(cues, repetition=0.0)
        feats = turn_features(cues, turn.prosody, signals)
        self._score(feats, turn.prosody, signals)
        return self._decide(a)

    def expecting(self) -> Expectation | None:
        """What the bot has just asked for, so turn-taking waits for the whole answer and the
        keypad knows an entry is wanted; None when any turn will do. Digit counts: settings."""
        c = self.cfg
        if self.state == COLLECT and self.slot in ("order_number", "account"):
            want = c.order_digits if self.slot == "order_number" else c.account_digits
            # With digits held from the last turn, the rest completes the answer, and so does the
            # whole number said again; a keyed entry still ends at the whole number.
            counts = tuple(sorted({want - len(self.partial), want})) if 0 < len(self.partial) < want else (want,)
            if self.slot == "order_number":
                return Expectation("order_number", digits=counts, keypad=True)
            return Expectation("account_id", digits=counts, email=self._flow_kind() == "password_reset", keypad=True)
        if self.state == VERIFY:
            return Expectation("pin_or_date", digits=(c.pin_digits,), date=True, keypad=True)
        if self.state in YES_NO_STATES:
            return Expectation("yes_no", keypad=True, choices="".join(YES_NO_KEYS))
        if self.state == ASK_INTENT and self.menu_open:
            return Expectation("menu", keypad=True, choices=self._menu_choices())
        return None

    def _parts(self, feats: dict[str, float], prosody: dict[str, float], signals: DialogueSignals) -> dict[str, float]:
        """The score's logit split into what the words, the voice and the dialogue added."""
        from .fusion import dialogue_features, prosody_features

        voice_keys = set(prosody_features(prosody))
        dialogue_keys = set(dialogue_features(signals))
        parts = {"text": 0.0, "prosody": 0.0, "dialogue": 0.0}
        for k, v in self.weights.contributions(feats).items():
            group = "prosody" if k in voice_keys else "dialogue" if k in dialogue_keys else "text"
            parts[group] += v
        parts = {k: round(v, 3) for k, v in parts.items()}
        parts["bias"] = round(self.weights.bias, 3)
        return parts

    @property
    def frustration(self) -> float:
        return self.trajectory.current

    _HANDOFF_PROMPTS = {
        "explicit_request": "handoff_requested",
        "dtmf": "handoff_requested",
        "tier": "handoff_requested",
        "frustration": "handoff_frustration",
        "no_match": "handoff_no_match",
        "no_input": "handoff_no_input",
        "max_bot_time": "handoff_unresolved",
        "sensitive_intent": "handoff_unresolved",
    }

    def hand_over(self, reason: str, text: str | None = None) -> BotReply:
        """The escalation policy decided: say the hand-off line and stop the bot's part of the call.

        `reason` is the policy's (frustration, dtmf...); it becomes the summary's escalation reason.
        """
        self.escalation = reason
        prompt = self._HANDOFF_PROMPTS.get(reason, "handoff_unresolved")
        return self._reply(text or self.flows.say(prompt), state=ESCALATED, escalate=reason)

    def summary(self) -> HandoffSummary:
        """The hand-off summary as things stand."""
        primary = next((i for i in self.intents if i not in META_INTENTS), None)
        cust = None
        if self.customer:
            c = self.customer
            cust = {"account_id": c.account_id, "name": c.name, "tier": c.tier, "phone": c.phone}
        return build_summary(
            intent=primary,
            intents=self.intents,
            entities={k: v for k, v in self.slots.items() if v is not None},
            customer=cust,
            verified=self.verified,
            steps=self.steps,
            frustration=self.trajectory.smoothed,
            frustration_raw=self.trajectory.raw,
            frustration_parts=self.turn_parts,
            escalation_reason=self.escalation,
            transcript=self.transcript,
        )

    # ------------------------------------------------------------ helpers

    def _reply(self, text: str, *, state: str, end_call: bool = False, escalate: str | None = None,
               analysis: Analysis | None = None) -> BotReply:
        if state != self.state:
            self.unclear_confirms = 0  # counted per question: a new one starts afresh
        self.state = state
        if escalate:
            self.escalation = escalate
            self.state = ESCALATED
        if end_call:
            self.state = ENDED
        if not (end_call or escalate):
            self._last_prompt = text
        self.transcript.append(("bot", text))
        ents = analysis.entities.to_dict() if analysis and not self._secret_answer() else {}
        ents.update({k: v for k, v in self.slots.items() if v is not None})
        reply = BotReply(
            text=text,
            end_call=end_call,
            intent=analysis.intent.intent if analysis else None,
            entities=ents,
            frustration=round(self.trajectory.current, 4),
            escalate=escalate,
            state=self.state,
            confidence=round(analysis.intent.confidence, 4) if analysis else 0.0,
            frustration_raw=round(self.trajectory.raw[-1], 4) if self.trajectory.raw else 0.0,
            caller_text=self._caller_text,
        )
        self._last_reply = reply
        return reply

    def _secret_answer(self) -> bool:
        """This turn answered the PIN question: its numbers go nowhere."""
        return self._caller_text is not None and PIN_MASK in self._caller_text

    def _on_silence(self, turn: CallerTurn) -> BotReply:
        self.transcript.append(("caller", NO_INPUT_TEXT))
        self._score_wordless(turn, DialogueSignals(self.no_match, self.no_input + 1, turn.barge_in, self.no_progress))
        self.no_input += 1
        self.no_progress += 1
        if self.no_input > self.cfg.max_no_input:
            if self.cfg.no_input_action == "escalate":
                return self._reply(self.flows.say("handoff_no_input"), state=ESCALATED, escalate="no_input_limit")
            return self._reply(self.flows.say("no_input_end"), state=ENDED, end_call=True)
        text = self.flows.say("no_input")
        question = last_question(self._last_prompt) if self._last_prompt else ""
        if question and question != self.flows.say("greeting") and self.state != ASK_INTENT:
            text = f"{text.split('?')[0]}? {question}" if "?" in text else f"{text} {question}"
        return self._reply(text, state=self.state)

    def _score_wordless(self, turn: CallerTurn, signals: DialogueSignals) -> None:
        """A turn with no words to read (a silence, a keyed entry): voice and dialogue only."""
        self._score(turn_features(TextCues(), turn.prosody, signals), turn.prosody, signals)

    def _score(self, feats: dict[str, float], prosody: dict[str, float], signals: DialogueSignals) -> None:
        """One point of the trajectory, with the parts that made it (this turn's, never the last's)."""
        self.trajectory.add(self.weights.score(feats))
        self.last_contributions = self._parts(feats, prosody, signals)
        self.turn_parts.append(self.last_contributions)

    def _understood(self) -> None:
        self.no_match = 0
        self.no_progress = 0

    def _no_match(self, a: Analysis, text: str | None = None, state: str | None = None) -> BotReply:
        self.no_match += 1
        self.no_progress += 1
        if self.no_match >= self.cfg.max_no_match:
            return self._keypad_menu(a) or self._reply(self.flows.say("handoff_no_match"), state=ESCALATED,
                                                       escalate="no_match_limit", analysis=a)
        return self._reply(text or self.flows.say("no_match"), state=state or self.state, analysis=a)

    def _escalate(self, a: Analysis | None, key: str, reason: str, text: str | None = None) -> BotReply:
        return self._reply(text or self.flows.say(key), state=ESCALATED, escalate=reason, analysis=a)

    def _with_offer(self, reply_text: str) -> str:
        """Mention a person once the caller is getting frustrated (once per call)."""
        if not self.offered_human and self.trajectory.current >= self.cfg.frustration_offer:
            self.offered_human = True
            return f"{reply_text} You can say agent at any time to talk to a person."
        return reply_text

    # ------------------------------------------------------------ decisions

    def _decide(self, a: Analysis) -> BotReply:
        reply = self._route(a)
        accepted = self._accepted_intent(a.intent.intent)
        if accepted is not None and accepted not in ("yes", "no"):
            self.intents.append(accepted)
        reply = BotReply(**{**reply.to_dict(), "accepted_intent": accepted})
        self._last_reply = reply
        if not (reply.end_call or reply.escalate):
            text = self._with_offer(reply.text)
            if text != reply.text:
                self.transcript[-1] = ("bot", text)
                self._last_prompt = text
                reply = BotReply(**{**reply.to_dict(), "text": text})
                self._last_reply = reply
        return reply

    def _accepted_intent(self, raw: str) -> str | None:
        """What the dialog acted on: a flow it started or a person it put the caller through to
        (set while routing), the running flow's own intent, or a meta intent taken at its word.
        A business intent or a request for a person that was only checked or ignored is None."""
        if self._accepted is not None:
            return self._accepted
        if raw == "speak_to_human" or raw in self.flows.intents:
            return raw if raw == self.flow else None
        return None if self._doubted else raw

    def _helped(self) -> bool:
        """The bot has done something for the caller: a resolved step, or a value they gave and
        confirmed. A value still being read back is a guess: a "thank you" then ends nothing."""
        pending = self.slot if self.state == CONFIRM_SLOT else None
        return (any(s.result not in FAILED_STEPS for s in self.steps)
                or any(v for k, v in self.slots.items() if k != pending))

    def _unsure(self, intent: str, confidence: float) -> bool:
        """Too unsure to act on ``intent`` without asking: a hand-over needs more evidence."""
        handoff = {i for i, r in self.flows.intents.items() if r.flow == "handoff"} | self.sensitive_intents
        return confidence < (self.cfg.transfer_confirm_below if intent in handoff else self.cfg.confirm_below)

    def _switch_to(self, a: Analysis) -> str | None:
        """Mid-flow, another request the caller is sure of (else the flow goes on)."""
        other = self._business_intent(a)
        if other and other != self.flow and not self._unsure(other, a.intent.confidence):
            return other
        return None

    def _gives_value(self, a: Analysis) -> bool:
        """The caller is answering the question (a number, an e-mail, a date)."""
        if self.state not in (COLLECT, CONFIRM_SLOT, VERIFY):
            return False
        e = a.entities
        return bool(e.numbers or e.email or e.date) or digits_only(a.text) is not None

    def _route(self, a: Analysis) -> BotReply:
        intent = a.intent.intent
        answering = self._gives_value(a)
        # An explicit request wins over an inferred one: it is the caller's own words.
        # While the caller is reading out a value, only an unmistakable demand counts.
        wants_human = intent == "speak_to_human" and (not answering or a.cues.human_demand >= 0.75)
        if wants_human and self.state != OFFER_HUMAN:
            if names_a_person(a.text) and (a.cues.human_demand >= 0.75 or
                                           a.intent.confidence >= self.cfg.transfer_confirm_below):
                self._accepted = "speak_to_human"
                return self._escalate(a, "handoff_requested", "human_requested")
            if self.state == COLLECT and self.flow is not None:
                # Asked while the caller was giving a number (often a misheard number): a "no",
                # or the number itself, goes back to that question, not to "How can I help?".
                collecting = "order_number" if self.slot == "order_number" else "account"
                if collecting in self.declined_for:  # asked and turned down once: a failed try at the number
                    return self._slot_failed(self.slot or "", self._reask_key(collecting), a)
                self._resume = collecting
            self.offered_human = True  # "I want to talk to": a half sentence, or unsure: ask
            return self._reply(self.flows.say("confirm_human"), state=OFFER_HUMAN, analysis=a)
        if self.trajectory.current >= self.cfg.frustration_escalate:
            return self._escalate(a, "handoff_frustration", "frustration")
        # A caller who says goodbye mid-question means it; a weak "bye" while reading out a value may not.
        sure_bye = self.state not in (COLLECT, VERIFY) or a.intent.confidence >= self.cfg.goodbye_confirm_below
        bye_shaped = intent == "goodbye" or (intent == OUT_OF_SCOPE and a.intent.top_intent == "goodbye")
        if self.state == OFFER_HUMAN and not self.unclear_confirms and self._unclear_offer_answer(a, bye_shaped):
            # Neither a clear yes nor a clear no to "Would you like that?": ask plainly, once.
            self.unclear_confirms += 1
            self._doubted = True
            return self._no_match(a, self.flows.say("offer_human_unclear"), state=OFFER_HUMAN)
        if self.state == OFFER_HUMAN and self.unclear_confirms and self._thanks_only(a, bye_shaped):
            # Thanks without words of leave again, after the plain question: take its likelier
            # reading, "no, thank you" (the "no" lost twice), and go on with the bot; never a goodbye.
            self._doubted = True
            return self._offer_declined(a)
        if not answering and bye_shaped and sure_bye:
            reply = self._on_goodbye(a)
            if reply is not None:
                return reply
        if not answering and intent == "repeat" and self._last_prompt:
            self.no_progress += 1
            self.partial = self._carried  # "Sorry, what?" after "I have 4 5 so far...": still 4 5
            return self._reply(self._last_prompt, state=self.state, analysis=a)
        handler = {
            ASK_INTENT: self._on_ask_intent,
            CONFIRM_INTENT: self._on_confirm_intent,
            COLLECT: self._on_collect,
            CONFIRM_SLOT: self._on_confirm_slot,
            VERIFY: self._on_verify,
            ANYTHING_ELSE: self._on_anything_else,
            OFFER_HUMAN: self._on_offer_human,
        }[self.state]
        return handler(a)

    def _business_intent(self, a: Analysis) -> str | None:
        i = a.intent.intent
        return i if i in self.flows.intents else None
