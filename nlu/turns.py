"""What crosses the triage dialog's boundary: the caller's turn in, the bot's reply out, and
the states a reply names.

Kept apart from the dialog so the voice pipeline and the store can name a turn or a state
without the dialog's decisions (or its models) behind them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .intents import OUT_OF_SCOPE
from .redact import PIN_MASK, redact_pin

# Dialog states.
ASK_INTENT = "ask_intent"
CONFIRM_INTENT = "confirm_intent"
COLLECT = "collect"  # waiting for a slot value (the dialog's `slot` names which)
CONFIRM_SLOT = "confirm_slot"
VERIFY = "verify"
ANYTHING_ELSE = "anything_else"
OFFER_HUMAN = "offer_human"
ENDED = "ended"
ESCALATED = "escalated"

# Intents that say nothing about why the caller called.
META_INTENTS = frozenset({"yes", "no", "repeat", "goodbye", "speak_to_human", OUT_OF_SCOPE})
# Step results that are not something done for the caller.
FAILED_STEPS = frozenset({"not_found", "failed", "no_answer"})
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


def keyed_digits(turn: CallerTurn) -> str:
    """The digits of a keyed entry (anything else the keypad sent dropped)."""
    return "".join(ch for ch in turn.text if ch.isdigit())


def as_recorded(turn: CallerTurn, secret: bool) -> str:
    """The caller's turn as the transcript keeps it: a keyed entry marked as one, and every
    number of an answer to the PIN question masked."""
    if turn.keypad:
        return f"{KEYPAD_PREFIX} {PIN_MASK if secret else keyed_digits(turn)}"
    return redact_pin(turn.text) if secret else turn.text
