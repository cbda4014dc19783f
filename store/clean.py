"""What goes into the store: redacted, JSON-safe copies of what a call emits."""

from __future__ import annotations

import math
from typing import Any, Mapping

from nlu.redact import CARD_MASK, MIN_PAN_DIGITS, redact

_BIG_INT = 10 ** (MIN_PAN_DIGITS - 1)  # an integer this large could be a card number


def redact_text(value: str | None) -> str | None:
    return None if value is None else redact(str(value))


def clean_json(value: Any) -> Any:
    """A JSON-safe copy of ``value`` with card numbers masked in every string (keys included)
    and in integers long enough to be one. Tuples and sets become lists, numpy scalars plain
    numbers, NaN and infinities null, anything else its ``str``, redacted."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int):
        return CARD_MASK if abs(value) >= _BIG_INT else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {redact(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [clean_json(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return clean_json(item())
        except (TypeError, ValueError):
            pass
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return clean_json(tolist())
    return redact(str(value))


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def policy_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"frustration.threshold": {"from": 0.6, "to": 0.7}, ...}`` for every field that changed
    (the version number itself left out); ``from`` is null for a field that was not there."""
    a = flatten(old or {})
    b = flatten(new)
    diff: dict[str, dict[str, Any]] = {}
    for key in sorted(set(a) | set(b)):
        if key == "version":
            continue
        if a.get(key) != b.get(key) or (key in a) != (key in b):
            diff[key] = {"from": a.get(key), "to": b.get(key)}
    return diff
