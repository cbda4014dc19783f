"""Replies as sentences: the unit Piper renders, the unit the prompt cache stores, and the
first one is what the caller waits for."""

from __future__ import annotations

import re

_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z0-9\"'])")


def split_sentences(text: str) -> list[str]:
    """'Sure. What's your order number?' → ['Sure.', "What's your order number?"]."""
    return [s for s in (p.strip() for p in _END.split(text.strip())) if s]
