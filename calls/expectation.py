"""What the bot has just asked the caller for, so every layer knows when an answer is complete.

The dialog (nlu) knows it asked for an order number; turn-taking (voice) must not end the turn
while the caller is still reading it out in groups; ASR may decode for digits; the keypad may
enter it. One small frozen value carries that knowledge between them without voice importing
nlu.
"""

from __future__ import annotations

from dataclasses import dataclass

# Slots the bot asks for. "yes_no" answers a confirmation; it constrains nothing but says a
# short "Yes." is a whole answer.
SLOTS = ("order_number", "account_id", "pin", "pin_or_date", "date", "email", "yes_no", "menu")


@dataclass(frozen=True)
class Expectation:
    slot: str
    # Digit counts that make the answer complete (order numbers: (5,), accounts: (8,), a PIN:
    # (4,)); empty when the answer is not a number.
    digits: tuple[int, ...] = ()
    date: bool = False  # a plausible date completes it ("the fourth of July nineteen eighty-five")
    email: bool = False  # a spelled-out e-mail address may answer it
    keypad: bool = False  # DTMF digits are accepted; '#' ends the entry
    # Keys that are each a whole answer on their own ("12": 1 for yes, 2 for no; a menu's keys):
    # one press answers at once, no '#' or pause; any other key passes through (0: a person).
    choices: str = ""

    def __post_init__(self):
        if self.slot not in SLOTS:
            raise ValueError(f"unknown slot {self.slot!r}; one of {', '.join(SLOTS)}")
        if any(not isinstance(n, int) or n < 1 for n in self.digits):
            raise ValueError("digits must be positive digit counts")
        if self.choices and (self.digits or not self.keypad or not self.choices.isdigit()):
            raise ValueError("choices are keypad digits, for an answer that is not a number")

    @property
    def wants_number(self) -> bool:
        return bool(self.digits)

    @property
    def max_digits(self) -> int:
        return max(self.digits, default=0)
