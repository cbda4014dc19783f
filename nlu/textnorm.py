"""Normalisation of ASR transcripts before classification and cue matching.

Whisper output varies in case and punctuation from turn to turn; fillers carry
no intent. Normalising both the labelled examples and live turns the same way
keeps the classifier from learning punctuation.
"""

from __future__ import annotations

import re

FILLERS = frozenset({"um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm"})
_KEEP_FILLER_PHRASES = ("uh huh", "mm hmm")
_PUNCT = re.compile(r"[^\w\s'@.]")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower-case, strip punctuation (keeping apostrophes) and fillers."""
    t = text.lower().replace("’", "'")
    t = _PUNCT.sub(" ", t)
    t = re.sub(r"(?<!\w)\.|\.(?!\w)", " ", t)  # sentence dots, not "example.com"
    t = _SPACES.sub(" ", t).strip()
    if t in _KEEP_FILLER_PHRASES:
        return t
    return " ".join(w for w in t.split() if w not in FILLERS)  # "" when only fillers


def words(text: str) -> list[str]:
    """Normalised word tokens."""
    return normalise(text).split()
