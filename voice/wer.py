"""Word error rate with the normalisation ASR scoring needs (case, punctuation, digits)."""

from __future__ import annotations

import re

_DIGITS = "zero one two three four five six seven eight nine".split()
# Filled pauses are not words of the reference (NIST scoring makes them optional); the service
# prompts Whisper to write them down (voice.asr_prompts), which must not count as errors.
FILLERS = frozenset("um umm uh uhh er erm ah hmm mm".split())


def normalise(text: str) -> list[str]:
    """Lower-case words; digits spelled one by one, as callers say account and order numbers."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"\d", lambda m: f" {_DIGITS[int(m.group())]} ", text)
    return [w for w in re.sub(r"[^a-z' ]+", " ", text).split() if w not in FILLERS]


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(edit distance in words, reference length)."""
    r, h = normalise(ref), normalise(hyp)
    prev = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        cur = [i] + [0] * len(h)
        for j, hw in enumerate(h, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rw != hw))
        prev = cur
    return prev[-1], len(r)


def wer(ref: str, hyp: str) -> float:
    errors, n = word_errors(ref, hyp)
    return errors / max(n, 1)
