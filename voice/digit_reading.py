"""A second reading of a number answer, with Whisper allowed to write nothing but digits.

On voices it hears badly (espeak-ng's accents stand in for them) Whisper tiny.en writes a number
read out loud as words that sound alike: "six oh seven eight nine" came back as "Big soul
hammering, eight times.", "four five six seven eight nine oh one" as "Or, I understand when
it, I know one." The bot then asked again, the caller read it again, was misheard again, and the
call went to a person for frustration over a number the caller had said right every time.

When the bot is waiting for a number and the transcript does not hold one, the same audio is
decoded again with every token that is not digits, spaces or punctuation suppressed, which
leaves Whisper only the question of *which* digits. That reading is believed only when

- it holds exactly one of the digit counts that complete the answer, and
- forcing digits cost little likelihood: its mean log-probability per token is within
  `MARGIN` of the free reading's. A caller who said words ("I don't have it with me.") gives
  a free reading Whisper is sure of and a forced one it is not; a misheard number gives two
  readings it is about as unsure of.

The dialog treats the value as any spoken number (the backend's lookup, the read-back, a PIN's
limited tries), so a wrong reading costs a "Sorry, I couldn't find that" and not a transfer.
`ivr eval digits` measures it. Pure functions here; the model runs in `voice.models`.
"""

from __future__ import annotations

from calls.expectation import Expectation
from voice.endpointing import answer_digits, answer_pending, number_given, spoken_digits, words

# Nats per token the forced reading may fall below the free one (`ivr eval digits`, tune half).
MARGIN = 0.5
DIGITS = frozenset("0123456789 ")
# Punctuation a digits-only reading may write, one mark a token: "..." is not allowed, since
# after the hesitation prompt a forced reading of words came out as "... ... ...".
MARKS = frozenset(".,-")


def worth_reading_for_digits(text: str, expecting: Expectation | None) -> bool:
    """A number is expected and the transcript neither holds it nor is part-way through reading
    it. "4 5" (a first group) waits for the rest; "Or, I understand when it, I know one." ends on
    a digit word too, but is words that sound like digits, not digits being read."""
    if expecting is None or not expecting.digits or text.rstrip().endswith("?"):
        return False
    if number_given(text, expecting):
        return False
    return not (answer_pending(text, expecting) and 2 * spoken_digits(text) >= len(words(text)))


def digits_only(token_text: str) -> bool:
    """A token a digits-only reading may write: " 4", "55", ",", " ." (not "four", "oh", "...")."""
    return bool(token_text) and (all(c in DIGITS for c in token_text) or token_text.strip() in MARKS)


def believe_digits(free_logprob: float, digits_text: str, digits_logprob: float,
                   expecting: Expectation | None, margin: float = MARGIN) -> str | None:
    """The digits-only reading to use in place of the transcript, or None to keep the transcript."""
    if expecting is None or not expecting.digits:
        return None
    if answer_digits(digits_text) not in expecting.digits:
        return None
    if digits_logprob < free_logprob - margin:
        return None
    return digits_text.strip()
