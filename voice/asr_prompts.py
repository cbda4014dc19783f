"""Whisper's prompt for a caller's turn: keep the hesitations, and decode numbers as digits.

The prompt is the "previous text" Whisper was trained to continue in style, so it steers how
things are written, not what was said:

- **Hesitations.** Whisper drops fillers and closes what it heard with a full stop, so a caller
  stopping after "I want to move, uh," reads "I want to move." and end of turn, which trusts a
  finished-looking sentence, answered half a sentence. After a prompt written with fillers and
  ellipses it writes them down ("I want to move, uh...", "I think..."), and the transcript
  itself says the caller is not done (voice.endpointing). nlu.textnorm drops fillers again
  before understanding.
- **Numbers.** With no prompt tiny.en writes numbers as figures and loses count of repeated
  digits ("one one one one" came back as "11111"); after digits written as words it writes a word
  a digit, "oh" and "double" kept, which nlu.spoken_numbers reads exactly.

`ivr eval turns` measures each prompt's effect on cut-offs, dead air and digits heard right.
"""

from __future__ import annotations

from calls.expectation import Expectation

HESITANT = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."
NUMBER = "Umm, four five... six seven, eight. One one one one. Double seven, two two two. Oh two four."


def prompt_for(expecting: Expectation | None) -> str:
    """The prompt for a turn answering `expecting` (None: the bot asked nothing in particular)."""
    if expecting is not None and expecting.digits:
        return NUMBER
    return HESITANT
