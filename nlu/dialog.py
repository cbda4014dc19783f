"""The bot-first triage dialog: a state machine from caller turns to bot replies.

``TriageDialog.start()`` greets; ``on_turn(CallerTurn)`` returns the next
``BotReply``. No audio, no clock, no network: the only edges are the
``Backend`` (the company's data) and ``Understanding`` (the models), both
injected, so the dialog is tested by scripting turns. Every reply carries the
turn's intent, entities and smoothed frustration, the intent the dialog
accepted (the policy acts on that one, not on the classifier's guess), and an
``escalate`` reason when the bot hands the call to a person; the routing
policy decides what to do with it.

No destructive action on a guess (nlu/evidence.py says why each threshold):
a goodbye before the bot has done anything gets "Is there anything else I can
help with?" (a second goodbye, or "no", ends the call); a goodbye-shaped turn
with clear displeasure ("Thanks for nothing.") is not a goodbye, and gets an
apology and the offer of a person; a request for a person that names none, or
is unsure, is confirmed; so is an unsure sensitive intent.

Numbers are taken at the length the settings give: a shorter one is kept for the next turn
to finish ("Okay. I have 4 5 so far. What's the rest of the order number?"), a length one off
with a repeated digit is tried one repeat more or fewer against the backend (order and account
numbers only, and always read back; a PIN is never guessed at but asked to be keyed in),
anything else is re-asked. Every question counts its failed tries and offers a person at
``max_slot_attempts`` instead of asking again; so does a read-back answered neither yes nor no
twice. An answer to the offer of a person that is neither a clear yes nor a clear no (a bare
"Thank you.", a "no" heard unsure) is asked once more ("Would you like a person? Please say
yes or no."), never taken as a goodbye; a number given instead is taken as the number.

``expecting()`` says what the bot has just asked for (an order number, an
account, a PIN or date, a yes or no), for turn-taking and the keypad. A keyed
entry (``CallerTurn.keypad``) is the slot value itself: exact, so it is looked
up without being read back. Answers to the PIN question are masked
(``[PIN]``) in the transcript, the entities and the reply's ``caller_text``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from calls.expectation import Expectation

from .backend import Backend, Customer
from .entities import parse_date
from .evidence import displeased, names_a_person, says_farewell
from .flows import Flows, last_question
from .frustration_text import TextCues
from .fusion import DialogueSignals, FrustrationWeights, Trajectory, turn_features
from .intents import OUT_OF_SCOPE
from .redact import PIN_MASK, redact_pin
from .spoken_numbers import digit_runs, digits_only, repeat_variants
from .summary import HandoffSummary, Step, build_summary
from .understanding import Analysis, Understanding

# Dialog states.
ASK_INTENT = "ask_intent"
CONFIRM_INTENT = "confirm_intent"
COLLECT = "collect"  # waiting for a slot value (self.slot names which)
CONFIRM_SLOT = "confirm_slot"
VERIFY = "verify"
ANYTHING_ELSE = "anything_else"
OFFER_HUMAN = "offer_human"
ENDED = "ended"
ESCALATED = "escalated"

META_INTENTS = frozenset({"yes", "no", "repeat", "goodbye", "speak_to_human", OUT_OF_SCOPE})
# Step results that are not something done for the caller.
_FAILED_STEPS = frozenset({"not_found", "failed", "no_answer"})
KEYPAD_PREFIX = "[keypad]"


@dataclass(frozen=True)
class CallerTurn:
    """One caller turn as the voice pipeline delivers it."""

    text: str = ""
    prosody: dict[str, float] = field(default_factory=dict)
    barge_in: bool = False  # the caller spoke over the bot's previous reply
    no_input: bool = False  # the caller said nothing before the timeout
    keypad: bool = False  # `text` is digits the caller keyed in (DTMF), not speech


@dataclass(frozen=True)
class BotReply:
    """What the bot says next and what the call should do."""

    text: str
    end_call: bool = False
    intent: str | None = None
    entities: dict[str, Any] = field(default_factory=dict)
    frustration: float = 0.0  # smoothed score after this turn
    escalate: str | None = None  # reason the bot hands over: human_requested, frustration, ...
    state: str = ASK_INTENT
    confidence: float = 0.0
    frustration_raw: float = 0.0
    # The intent the dialog acted on this turn: the classifier's when it was taken, the one a
    # "yes" confirmed, None while it is only being checked ("Just to check...?") or was doubted.
    accepted_intent: str | None = None
    # The caller's turn as the transcript keeps it, when that differs from what was said or
    # keyed: "[keypad] 45678", a PIN masked. Logs and the store must show this, not the raw text.
    caller_text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def say_digits(digits: str) -> str:
    """Digits for TTS to read one by one: "45678" → "4 5 6 7 8"."""
    return " ".join(digits)


def say_email(email: str) -> str:
    return email.replace(".", " dot ").replace("@", " at ").replace("_", " underscore ").replace("-", " dash ")


def say_date(d: date, today: date) -> str:
    if d == today:
        return "today"
    if d == today + timedelta(days=1):
        return "tomorrow"
    return f"{d:%A} {d.day} {d:%B}"


def say_amount(cents: int, currency_word: str) -> str:
    major, minor = divmod(abs(cents), 100)
    text = f"{major} {currency_word}"
    if minor:
        text += f" and {minor} cents"
    return ("minus " if cents < 0 else "") + text


class TriageDialog:
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
        shown = _as_recorded(turn, secret)
        self._caller_text = shown if shown != turn.text else None
        self.transcript.append(("caller", shown))
        if turn.keypad and self.state in (COLLECT, VERIFY):
            return self._on_keypad("".join(ch for ch in turn.text if ch.isdigit()), turn)
        a = self.nlu.analyse(turn.text, self._embeddings)
        if a.embedding is not None:
            self._embeddings.append(a.embedding)
        signals = DialogueSignals(self.no_match, self.no_input, turn.barge_in, self.no_progress)
        feats = turn_features(a.cues, turn.prosody, signals)
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
        if self.state in (CONFIRM_SLOT, CONFIRM_INTENT, OFFER_HUMAN, ANYTHING_ELSE):
            return Expectation("yes_no")
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
        self.transcript.append(("caller", "[no input]"))
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
            return self._reply(self.flows.say("handoff_no_match"), state=ESCALATED, escalate="no_match_limit", analysis=a)
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
        """The bot has done something for the caller: a resolved step, or a value they gave."""
        return any(s.result not in _FAILED_STEPS for s in self.steps) or any(v for v in self.slots.values())

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

    def _unclear_offer_answer(self, a: Analysis, bye_shaped: bool) -> bool:
        """After the offer of a person: the turn is neither a clear yes nor a clear no (nor a new
        request, a farewell in words, a number for the question the offer stopped, or "what?").
        A yes or no below ``confirm_below``, a request for a person as unsure as one that is
        confirmed elsewhere, and thanks without words of leave ("Thank you.": often a "no, thank
        you" with its "no" lost) are unclear (nlu/evidence.py)."""
        intent, conf = a.intent.intent, a.intent.confidence
        if intent in ("yes", "no"):
            return conf < self.cfg.confirm_below
        if intent == "speak_to_human":
            return not (names_a_person(a.text) or conf >= self.cfg.transfer_confirm_below)
        if intent == "repeat" or self._business_intent(a) or self._offer_gives_number(a):
            return False
        if bye_shaped:
            return not (says_farewell(a.text) or displeased(a.cues, a.text, self._helped()))
        return True

    def _offer_gives_number(self, a: Analysis) -> bool:
        """The offer stopped a question for a number, and the caller gives the number instead."""
        return self._resume is not None and self.flow is not None and bool(digits_only(a.text) or a.entities.numbers)

    def _on_goodbye(self, a: Analysis) -> BotReply | None:
        """A goodbye ends the call only on evidence in proportion: not when it sounds displeased
        (sarcasm, a complaint), and not before the bot has done anything or when unsure, unless
        it is the second. None: not a goodbye after all (the turn is routed as usual)."""
        if displeased(a.cues, a.text, self._helped()):
            self._doubted = True
            self.offered_human = True
            text = f"{self.flows.say('apology')} {self.flows.say('offer_human')}"
            return self._reply(text, state=OFFER_HUMAN, analysis=a)
        if a.intent.intent != "goodbye":
            return None
        if self.goodbyes or (self._helped() and a.intent.confidence >= self.cfg.goodbye_confirm_below):
            return self._reply(self.flows.say("goodbye"), state=ENDED, end_call=True, analysis=a)
        self.goodbyes += 1
        self._doubted = True
        return self._reply(self.flows.say("anything_else"), state=ANYTHING_ELSE, analysis=a)

    def _business_intent(self, a: Analysis) -> str | None:
        i = a.intent.intent
        return i if i in self.flows.intents else None

    def _on_ask_intent(self, a: Analysis) -> BotReply:
        intent = self._business_intent(a)
        if intent is None:
            # Clearly off-topic ("book me a taxi"): say so and offer a person.
            # Merely unclear ("hello?"): re-prompt with examples instead.
            if a.intent.top_intent == OUT_OF_SCOPE and a.intent.confidence >= self.cfg.confirm_below:
                self.no_match += 1
                self.no_progress += 1
                if self.no_match >= self.cfg.max_no_match:
                    return self._escalate(a, "handoff_no_match", "no_match_limit")
                self.offered_human = True
                return self._reply(self.flows.say("out_of_scope"), state=OFFER_HUMAN, analysis=a)
            return self._no_match(a)
        if self._unsure(intent, a.intent.confidence):
            self.pending_intent = intent
            self.no_progress += 1
            label = self.flows.intents[intent].label
            return self._reply(self.flows.say("confirm_intent", intent_label=label), state=CONFIRM_INTENT, analysis=a)
        return self._start_flow(intent, a)

    def _on_confirm_intent(self, a: Analysis) -> BotReply:
        if a.intent.intent == "yes" and self.pending_intent:
            intent, self.pending_intent = self.pending_intent, None
            return self._start_flow(intent, a)
        if a.intent.intent == "no":
            self.pending_intent = None
            self.no_progress += 1
            return self._reply(self.flows.say("confirm_intent_no"), state=ASK_INTENT, analysis=a)
        return self._on_ask_intent(a)

    def _on_anything_else(self, a: Analysis) -> BotReply:
        if a.intent.intent == "no":
            return self._reply(self.flows.say("goodbye"), state=ENDED, end_call=True, analysis=a)
        if a.intent.intent == "yes":
            self._understood()
            return self._reply(self.flows.say("what_else"), state=ASK_INTENT, analysis=a)
        return self._on_ask_intent(a)

    def _on_offer_human(self, a: Analysis) -> BotReply:
        if a.intent.intent in ("yes", "speak_to_human"):
            self._accepted = "speak_to_human"
            return self._escalate(a, "handoff_requested", "human_requested")
        if a.intent.intent == "no":
            self._understood()
            resume, self._resume = self._resume, None
            if resume is not None and self.flow is not None:  # offered after failed tries: once more
                key = "order_status.ask_order" if resume == "order_number" else f"{self._flow_kind()}.ask_account"
                reply = self._ask(resume, key, a)
                ask = reply.text.split(". ", 1)[-1]  # without its "Sure."
                text = f"{self.flows.say('try_again')} {ask}"
                self.transcript[-1], self._last_prompt = ("bot", text), text
                reply = BotReply(**{**reply.to_dict(), "text": text})
                self._last_reply = reply
                return reply
            return self._reply(self.flows.say("offer_human_no"), state=ASK_INTENT, analysis=a)
        if self._offer_gives_number(a):  # "no" in effect: the number, once more
            self.slot, self._resume = self._resume, None
            self.state = COLLECT
            return self._on_collect(a)
        self._resume = None
        return self._on_ask_intent(a)

    # ---------------------------------------------------------------- flows

    def _start_flow(self, intent: str, a: Analysis) -> BotReply:
        route = self.flows.intents[intent]
        self._understood()
        self._accepted = intent
        self.flow = intent
        self.attempts = {}
        if route.flow == "handoff":
            self.steps.append(Step("handoff", intent, "human_only"))
            return self._escalate(a, "", "human_only_intent", text=route.say)
        if route.flow == "faq":
            return self._answer_faq(intent, a)
        if route.flow == "order_status":
            order = a.entities.order_number or _longest(a, 4)
            if order:
                return self._take_number("order_number", order, a)
            return self._ask("order_number", "order_status.ask_order", a)
        # password_reset and account_balance both start by identifying the account
        if route.flow == "account_balance" and self.customer is not None:
            self.slots["account_id"] = self.customer.account_id
            return self._reply(self.flows.say("account_balance.ask_verify"), state=VERIFY, analysis=a)
        account = a.entities.account_id or _longest(a, 6)
        if account:
            return self._take_number("account_id", account, a)
        if route.flow == "password_reset" and a.entities.email:
            return self._confirm_value("email", a.entities.email, a)
        return self._ask("account", f"{route.flow}.ask_account", a)

    def _flow_kind(self) -> str:
        return self.flows.intents[self.flow].flow if self.flow else ""

    def _ask(self, slot: str, key: str, a: Analysis | None) -> BotReply:
        self.slot = slot
        self.partial, self._held = "", False
        return self._reply(self.flows.say(key), state=COLLECT, analysis=a)

    def _want(self, slot: str) -> int:
        return self.cfg.order_digits if slot == "order_number" else self.cfg.account_digits

    def _exists(self, slot: str, digits: str) -> bool:
        found = self.backend.order(digits) if slot == "order_number" else self.backend.customer(digits)
        return found is not None

    def _reask_key(self, slot: str) -> str:
        return "order_status.reask_order" if slot == "order_number" else f"{self._flow_kind()}.reask_account"

    def _take_number(self, slot: str, digits: str, a: Analysis | None, joined: bool = False) -> BotReply:
        """A number heard for ``slot`` ("order_number" or "account_id"), of any length.

        The expected length is read back. A length one off with a repeated digit in it ("7 7 2 2"
        for 77222: ASR loses count of repeats) is tried with one repeat more or fewer; when exactly
        one of those exists in the backend, that one is read back (the read-back is the caller's
        check; nothing is acted on unconfirmed). A shorter number is kept for the next turn to
        continue ("Okay. I have 4 5 so far. What's the rest of the order number?"); a short
        number begun afresh after one was kept replaces it but counts as a failed try; a longer
        one is re-asked, as a failed try at the slot."""
        want = self._want(slot)
        self.partial = ""
        if len(digits) == want:
            return self._confirm_value(slot, digits, a)
        found = [c for c in repeat_variants(digits, want) if self._exists(slot, c)]
        if len(found) == 1:
            return self._confirm_value(slot, found[0], a)
        if len(digits) < want:
            if self._held and not joined:  # a number begun afresh: kept, but a try that did not work
                k = _attempt_key(slot)
                self.attempts[k] = self.attempts.get(k, 0) + 1
                self.no_progress += 1
                if self.attempts[k] >= self.cfg.max_slot_attempts:
                    return self._slot_failed(slot, self._reask_key(slot), a)
            self.partial, self._held = digits, True
            self.slot = "order_number" if slot == "order_number" else "account"
            # Name the number the rest belongs to: "And the rest?" alone was not understood.
            key = "order_status.partial_order" if slot == "order_number" else f"{self._flow_kind()}.partial_account"
            return self._reply(self.flows.say(key, digits_spoken=say_digits(digits)), state=COLLECT, analysis=a)
        return self._slot_failed(slot, self._reask_key(slot), a)

    def _slot_failed(self, slot: str, key: str, a: Analysis | None, not_understood: bool = False,
                     **values: Any) -> BotReply:
        """A try at a slot that did not work: nothing usable heard, a number of the wrong length,
        a read-back the caller rejected, a lookup that found nothing. Re-ask with ``key``; at
        ``max_slot_attempts`` failed tries (or at ``max_no_match`` turns not understood) stop
        asking: offer a person (or hand over), and a "no" to the offer asks once more."""
        k = _attempt_key(slot)
        self.attempts[k] = self.attempts.get(k, 0) + 1
        self.no_progress += 1
        self.partial, self._held = "", False
        self.slots.pop(slot, None)
        collecting = "order_number" if slot == "order_number" else "account"
        if not_understood:
            self.no_match += 1
            if self.no_match >= self.cfg.max_no_match:
                return self._escalate(a, "handoff_no_match", "no_match_limit")
        if self.attempts[k] >= self.cfg.max_slot_attempts:
            return self._offer_human(self.flows.say(key, **values).split(".")[0] + ".", a, resume=collecting)
        self.slot = collecting
        return self._reply(self.flows.say(key, **values), state=COLLECT, analysis=a)

    def _offer_human(self, lead: str, a: Analysis | None, resume: str | None = None) -> BotReply:
        """Stop re-asking: offer a person. ``resume``: the slot a "no" to the offer asks for again."""
        self.offered_human = True
        self._resume = resume
        return self._reply(f"{lead} {self.flows.say('offer_human')}", state=OFFER_HUMAN, analysis=a)

    def _confirm_value(self, slot: str, value: str, a: Analysis | None) -> BotReply:
        self.slot = slot
        self.slots[slot] = value
        self.partial, self._held = "", False
        self.unclear_confirms = 0
        kind = self._flow_kind()
        if slot == "order_number":
            text = self.flows.say("order_status.confirm_order", order_digits=say_digits(value))
        elif slot == "email":
            text = self.flows.say(f"{kind}.confirm_email", email_spoken=say_email(value))
        else:
            text = self.flows.say(f"{kind}.confirm_account", account_digits=say_digits(value))
        return self._reply(text, state=CONFIRM_SLOT, analysis=a)

    def _on_collect(self, a: Analysis) -> BotReply:
        kind = self._flow_kind()
        slot = "order_number" if self.slot == "order_number" else "account_id"
        heard = digits_only(a.text)  # the turn is nothing but a number
        carried = self._carried
        if carried and heard and len(heard) != self._want(slot) and len(carried) + len(heard) <= self._want(slot):
            return self._take_number(slot, carried + heard, a, joined=True)  # the rest of it
        if slot == "order_number":
            value = heard or a.entities.order_number or _longest(a, 3)
        else:
            value = heard or a.entities.account_id or _longest(a, 4)
            if value is None and kind == "password_reset" and a.entities.email:
                return self._confirm_value("email", a.entities.email, a)
        if value:
            return self._take_number(slot, value, a)
        # No value: maybe the caller changed the subject.
        other = self._switch_to(a)
        if other:
            return self._start_flow(other, a)
        return self._slot_failed(slot, self._reask_key(slot), a, not_understood=True)

    def _on_confirm_slot(self, a: Analysis) -> BotReply:
        slot = self.slot or ""
        intent = a.intent.intent
        corrected = a.entities.order_number or a.entities.account_id or _longest(a, 3)
        if intent in ("yes", "no") and a.intent.confidence < self.cfg.confirm_below and not corrected:
            intent = OUT_OF_SCOPE  # "I guess so." reads as a no at 0.54: neither, so asked yes or no
        if intent == "no" or (corrected and corrected != self.slots.get(slot)):
            # A rejected read-back is a failed try at the slot: the caller gets max_slot_attempts
            # read-backs, then the offer of a person, never an endless "Is that right?".
            self.unclear_confirms = 0
            number_slot = "order_number" if slot == "order_number" else "account_id"
            k = _attempt_key(slot)
            if corrected and corrected != self.slots.get(slot) and self.attempts.get(k, 0) + 1 < self.cfg.max_slot_attempts:
                self.attempts[k] = self.attempts.get(k, 0) + 1
                self.no_progress += 1
                self.slots.pop(slot, None)
                return self._take_number(number_slot, corrected, a)
            return self._slot_failed(slot, self._reask_key(number_slot), a)
        if intent == "yes":
            self._understood()
            return self._resolve(a)
        other = self._switch_to(a)
        if other:
            return self._start_flow(other, a)
        # Neither yes nor no ("Yes, not right"): ask once more, then stop asking.
        self.unclear_confirms += 1
        if self.unclear_confirms >= self.cfg.max_slot_attempts:
            self.unclear_confirms = 0
            self.no_match += 1
            self.no_progress += 1
            if self.no_match >= self.cfg.max_no_match:
                return self._escalate(a, "handoff_no_match", "no_match_limit")
            self.slots.pop(slot, None)
            return self._offer_human(self.flows.say("confirm_unclear"), a,
                                     resume="order_number" if slot == "order_number" else "account")
        return self._no_match(a, self.flows.say("yes_or_no"), state=CONFIRM_SLOT)

    def _resolve(self, a: Analysis | None) -> BotReply:
        kind = self._flow_kind()
        today = self.nlu.today()
        if kind == "order_status":
            num = self.slots["order_number"]
            order = self.backend.order(num)
            if order is None:
                self.steps.append(Step("order_lookup", f"order {num}", "not_found"))
                return self._slot_failed("order_number", "order_status.not_found", a, order_digits=say_digits(num))
            self.steps.append(Step("order_lookup", f"order {num}", f"found: {order.status}"))
            if self.customer is None:
                self.customer = self.backend.customer(order.account_id)
            eta = say_date(date.fromisoformat(order.eta), today) if order.eta else "soon"
            text = self.flows.say(f"order_status.statuses.{order.status}", item=order.item, eta=eta,
                                  order_digits=say_digits(num))
            return self._done(text, a)
        # identify the account (password_reset / account_balance)
        if "email" in self.slots and self.slot == "email":
            cust = self.backend.customer_by_email(self.slots["email"])
        else:
            cust = self.backend.customer(self.slots.get("account_id", ""))
        if cust is None:
            slot = self.slot if self.slot in ("email", "account_id") else "account_id"
            self.steps.append(Step("account_lookup", str(self.slots.get(slot)), "not_found"))
            return self._slot_failed(slot, f"{kind}.not_found", a)
        self.customer = cust
        self.slots["account_id"] = cust.account_id
        self.steps.append(Step("account_lookup", cust.account_id, "found"))
        if kind == "password_reset":
            masked = self.backend.send_password_reset(cust.account_id)
            self.steps.append(Step("password_reset", cust.account_id, "sent" if masked else "failed"))
            if not masked:
                return self._escalate(a, "handoff_unresolved", "unresolved")
            return self._done(self.flows.say("password_reset.sent", masked_email=masked), a)
        self.slot = "verify"
        return self._reply(self.flows.say("account_balance.ask_verify"), state=VERIFY, analysis=a)

    def _on_keypad(self, digits: str, turn: CallerTurn) -> BotReply:
        """Digits keyed in answer to the question: the value itself (exact: no read-back)."""
        self._score_wordless(turn, DialogueSignals(self.no_match, 0, turn.barge_in, self.no_progress))
        if self.state == VERIFY:
            return self._check_identity(digits, None, None, keyed=True)
        slot = "order_number" if self.slot == "order_number" else "account_id"
        carried, want = self._carried, self._want(slot)
        if carried and len(digits) != want and len(carried) + len(digits) == want:
            return self._confirm_value(slot, carried + digits, None)  # the rest keyed: part was spoken, read back
        self.slot = slot
        self.slots[slot] = digits
        self._understood()
        return self._resolve(None)

    def _on_verify(self, a: Analysis) -> BotReply:
        assert self.customer is not None or "account_id" in self.slots
        runs = digit_runs(a.text)
        pins = [r.digits for r in runs if len(r.digits) == self.cfg.pin_digits]
        dob = parse_date(a.text, self.nlu.today(), prefer_past=True)
        if not pins and dob is None:
            said = digits_only(a.text)
            if said and len(said) == self.cfg.pin_digits:
                pins = [said]  # said in groups ("four three ... two one")
            elif said or runs:
                return self._pin_rekey(a)
            else:
                other = self._switch_to(a)
                if other:
                    return self._start_flow(other, a)
        return self._check_identity(pins[0] if pins else None, dob, a)

    def _pin_rekey(self, a: Analysis) -> BotReply:
        """A PIN heard with the wrong number of digits ("1 1 1 1 1"). Never tried, nor any reading
        of it with a repeat more or fewer: each verify is a guess at the caller's secret. Not a
        failed verification either: the caller is asked to key it in (keys are exact), and after
        max_slot_attempts such answers is offered a person."""
        self.attempts["pin_heard"] = self.attempts.get("pin_heard", 0) + 1
        self.no_progress += 1
        if self.attempts["pin_heard"] >= self.cfg.max_slot_attempts:
            return self._offer_human(self.flows.say("account_balance.pin_rekey").split(".")[0] + ".", a)
        return self._reply(self.flows.say("account_balance.pin_rekey"), state=VERIFY, analysis=a)

    def _check_identity(self, pin: str | None, dob: date | None, a: Analysis | None, keyed: bool = False) -> BotReply:
        """Verify the account with a PIN or a date of birth; the step records which, never the value."""
        account = self.slots.get("account_id") or (self.customer.account_id if self.customer else "")
        ok = self.backend.verify(account, pin=pin, dob=dob)
        what = "date of birth" if dob else ("PIN (keypad)" if keyed else "PIN") if pin else "nothing heard"
        self.steps.append(Step("verify", what, "passed" if ok else "failed"))
        if not ok:
            self.attempts["verify"] = self.attempts.get("verify", 0) + 1
            self.no_progress += 1
            if self.attempts["verify"] >= self.cfg.max_slot_attempts:
                text = f"{self.flows.say('account_balance.verify_locked')} {self.flows.say('handoff_unresolved')}"
                return self._escalate(a, "", "verification_failed", text=text)
            return self._reply(self.flows.say("account_balance.verify_failed"), state=VERIFY, analysis=a)
        self.verified = True
        self._understood()
        cust = self.customer or self.backend.customer(account)
        self.customer = cust
        assert cust is not None
        first = cust.name.split()[0]
        word = self.cfg.currency_words.get(cust.currency, cust.currency)
        if cust.balance_cents == 0:
            text = self.flows.say("account_balance.balance_zero", first_name=first)
        elif cust.due_date:
            text = self.flows.say("account_balance.balance_due", first_name=first,
                                  amount_spoken=say_amount(cust.balance_cents, word),
                                  due=say_date(date.fromisoformat(cust.due_date), self.nlu.today()))
        else:
            text = self.flows.say("account_balance.balance", first_name=first,
                                  amount_spoken=say_amount(cust.balance_cents, word))
        self.steps.append(Step("balance", cust.account_id, "told"))
        return self._done(text, a)

    def _done(self, text: str, a: Analysis | None) -> BotReply:
        self._understood()
        self.slot = None
        return self._reply(f"{text} {self.flows.say('anything_else')}", state=ANYTHING_ELSE, analysis=a)

    def _answer_faq(self, intent: str, a: Analysis) -> BotReply:
        route = self.flows.intents[intent]
        entry = None
        if intent == "opening_hours" or not route.kb:
            entry = self._best_kb_entry(a)
        if entry is None and route.kb:
            entry = self.backend.kb_entry(route.kb)
        if entry is None:
            self.steps.append(Step("faq", intent, "no_answer"))
            self.offered_human = True
            return self._reply(f"{self.flows.say('faq.not_found')} {self.flows.say('offer_human')}", state=OFFER_HUMAN, analysis=a)
        self.steps.append(Step("faq", entry.key, "answered"))
        text = self.flows.say("faq.answer", answer=entry.answer)
        if route.then == "offer_human":
            self.offered_human = True
            return self._reply(f"{text} {self.flows.say('offer_human')}", state=OFFER_HUMAN, analysis=a)
        return self._done(text, a)

    def _best_kb_entry(self, a: Analysis):
        entries = self.backend.kb_entries()
        if not entries or a.embedding is None:
            return None
        if self._kb_vectors is None or self._kb_vectors[0] != [e.key for e in entries]:
            self._kb_vectors = ([e.key for e in entries], self.nlu.embed([e.question for e in entries]))
        sims = self._kb_vectors[1] @ a.embedding
        best = int(sims.argmax())
        return entries[best] if float(sims[best]) >= 0.3 else None


def _as_recorded(turn: CallerTurn, secret: bool) -> str:
    """The caller's turn as the transcript keeps it: a keyed entry marked as one, and every
    number of an answer to the PIN question masked."""
    if turn.keypad:
        digits = "".join(ch for ch in turn.text if ch.isdigit())
        return f"{KEYPAD_PREFIX} {PIN_MASK if secret else digits}"
    return redact_pin(turn.text) if secret else turn.text


def _attempt_key(slot: str) -> str:
    """Tries at a slot are counted per question: the order number, the account (its number or
    e-mail address), the PIN."""
    if slot == "order_number":
        return "order_number"
    return "verify" if slot == "verify" else "account"


def _longest(a: Analysis, min_digits: int) -> str | None:
    runs = [n for n in a.entities.numbers if len(n) >= min_digits]
    return max(runs, key=len) if runs else None
