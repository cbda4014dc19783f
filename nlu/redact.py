"""Redaction of payment card numbers (everywhere) and PINs (in answers to a PIN question).

Conservative on purpose: any run of 13 or more digits — written, grouped
with spaces or dashes, or spoken as words ("four one one one ...") — is
replaced, whether or not it passes the Luhn check. A false redaction costs a
little context in a summary; a leaked PAN costs a PCI incident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .spoken_numbers import digit_runs

CARD_MASK = "[card number]"
PIN_MASK = "[PIN]"
MIN_PAN_DIGITS = 13
_WRITTEN = re.compile(r"\d(?:[ \-.]?\d){12,}")


def redact(text: str, mask: str = CARD_MASK) -> str:
    """``text`` with every 13+ digit run (written or spoken) replaced by ``mask``."""
    text = _WRITTEN.sub(mask, text)
    spans = [(r.start, r.end) for r in digit_runs(text) if len(r.digits) >= MIN_PAN_DIGITS]
    for start, end in reversed(spans):
        text = text[:start] + mask + text[end:]
    return text


def redact_pin(text: str, mask: str = PIN_MASK) -> str:
    """``text`` with every digit run, written or spoken, replaced by ``mask``.

    For a turn that answers "your PIN or date of birth": the PIN is a secret, and it can come in
    any shape ("one one one one", "eleven eleven", "1111"), so every number in that turn goes.
    """
    for r in reversed(digit_runs(text)):
        text = text[: r.start] + mask + text[r.end :]
    return _WRITTEN_ANY.sub(mask, text)


_WRITTEN_ANY = re.compile(r"\d+")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum (for callers who want to tell a real PAN from noise)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_deep(value: Any, key: str | None = None, plain_keys: frozenset[str] = frozenset()) -> Any:
    """Every string (and every integer long enough to be a card number) in a JSON-like value,
    redacted; floats are scores, never card numbers, and the values of `plain_keys` (identifiers
    the caller set) are left alone.

    Structural on purpose: redacting a JSON *line* read a list of scores ("[0.046, 0.508, 0.75,
    0.9]") as the digits of a card and masked it, which broke the line's JSON.
    """
    if isinstance(value, str):
        return value if key in plain_keys else redact(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return CARD_MASK if len(str(abs(value))) >= MIN_PAN_DIGITS else value
    if isinstance(value, Mapping):
        return {str(k): redact_deep(v, str(k), plain_keys) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_deep(v, key, plain_keys) for v in value]
    return redact(str(value))
