"""Replies as sentences: the unit Piper renders, the unit the prompt cache stores, and the
first one is what the caller waits for."""

from __future__ import annotations

import re

_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z0-9\"'])")


def split_sentences(text: str) -> list[str]:
    """'Sure. What's your order number?' → ['Sure.', "What's your order number?"]."""
    return [s for s in (p.strip() for p in _END.split(text.strip())) if s]


_CLAUSE = re.compile(r",\s+")


def speakable_chunks(text: str, max_first_words: int = 6) -> list[str]:
    """The reply as Piper should render it: sentence by sentence, with a long first sentence cut
    at its first comma after at least two words, so the caller hears the start of the answer
    after a short synthesis ("We're open Monday to Friday," ...) rather than a whole long one."""
    sentences = split_sentences(text)
    if not sentences or len(sentences[0].split()) <= max_first_words:
        return sentences
    first = sentences[0]
    for m in _CLAUSE.finditer(first):
        head, tail = first[: m.start() + 1], first[m.end():]
        if len(head.split()) >= 2 and len(tail.split()) >= 2:
            return [head, tail, *sentences[1:]]
    return sentences
