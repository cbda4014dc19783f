"""Whisper's prompt for a caller's turn: keep the hesitations.

The prompt is the "previous text" Whisper was trained to continue in style, so it steers how
things are written, not what was said:

- **Hesitations.** Whisper drops fillers and closes what it heard with a full stop, so a caller
  stopping after "I want to move, uh," reads "I want to move." and end of turn, which trusts a
  finished-looking sentence, answered half a sentence. After a prompt written with fillers and
  ellipses it writes them down ("I want to move, uh...", "I think..."), and the transcript
  itself says the caller is not done (voice.endpointing). nlu.textnorm drops fillers again
  before understanding.
- **Numbers** are not prompted for. A prompt of digits written as words (NUMBER) made tiny.en
  write a word a digit and keep "oh" and "double", but it also repeated what it had heard ("four
  three" came back as "Four three. Four three.", four digits for two: a PIN acted on that was
  never said) and got fewer numbers right on the tune half of `ivr eval turns` than the
  hesitation prompt (68 % against 75 % of 44 number answers). Digits come from the spoken-number
  grammar over the transcript (nlu.spoken_numbers), the keypad, and the dialog's read-back.

`ivr eval turns` measures each prompt's effect on cut-offs, dead air and digits heard right.
"""

from __future__ import annotations

from calls.expectation import Expectation

HESITANT = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."
NUMBER = "Umm, four five... six seven, eight. One one one one. Double seven, two two two. Oh two four."  # measured, not used


def prompt_for(expecting: Expectation | None) -> str:
    """The prompt for a turn answering `expecting` (None: the bot asked nothing in particular).
    One prompt for every turn today (see above); the expectation is where a better one would go."""
    return HESITANT
