"""The policy editor's form: which fields it shows (`FIELDS`), the policy document as the form
shows it, and the form's text back into a policy document. Parsing only; the values' limits
are checked where every policy document's are (`web.schemas.PolicyDocument`, `routing.policy`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from routing.policy import PolicyError


@dataclass(frozen=True)
class Field:
    path: str  # where it sits in the policy document
    label: str
    kind: str  # number01, int, seconds, bool, list
    help: str


FIELDS = (
    Field("frustration.threshold", "Frustration threshold", "number01",
          "Smoothed frustration (0–1) that counts as frustrated. Lower transfers sooner."),
    Field("frustration.turns", "…for this many turns", "int",
          "Caller turns in a row at or above the threshold before a transfer (1 or more)."),
    Field("frustration.ceiling", "Frustration ceiling", "number01",
          "One turn's raw score at or above this transfers at once (0–1; 1 switches it off in practice)."),
    Field("frustration.corroborate", "…only if two parts agree", "bool",
          "The ceiling acts on one turn only when the score holds without its strongest part (words, voice, "
          "dialogue); a spike in one alone (a misheard sentence, an unusual voice) waits for the two-turn rule."),
    Field("explicit_request", "Caller asks for a person", "bool", "Transfer when the caller asks for an agent."),
    Field("dtmf_zero", "Caller presses 0", "bool", "Transfer when the caller presses 0 on the keypad."),
    Field("sensitive_intents", "Human-only topics", "list",
          "Intents only a person handles, comma-separated (e.g. fraud_stolen_card, complaint)."),
    Field("max_no_match", "Not understood, in a row", "int", "Turns the bot did not understand before a transfer."),
    Field("max_no_input", "Silences, in a row", "int", "Times the caller said nothing before a transfer."),
    Field("max_bot_seconds", "Most time with the bot", "seconds", "Seconds with the bot before a person takes over."),
    Field("always_human_tiers", "Tiers that always get a person", "list",
          "Customer tiers sent straight to an agent, comma-separated (e.g. platinum). Empty for none."),
)


def policy_values(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The policy document as the form shows it."""
    out: dict[str, Any] = {}
    for f in FIELDS:
        v: Any = doc
        for part in f.path.split("."):
            v = v.get(part) if isinstance(v, Mapping) else None
        out[f.path] = ", ".join(v) if f.kind == "list" and isinstance(v, list) else v
    return out


def form_to_policy_doc(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's text fields → a policy document; PolicyError naming the field when one is not a
    number. Range checks are the document's (`web.schemas.PolicyDocument`), as for the API."""
    doc: dict[str, Any] = {"frustration": {}}
    for f in FIELDS:
        raw = (form.get(f.path) or "").strip()
        if f.kind == "bool":
            value: Any = raw.lower() in ("true", "on", "1", "yes")
        elif f.kind == "list":
            value = [x.strip() for x in raw.replace("\n", ",").split(",") if x.strip()]
        else:
            try:
                value = int(raw) if f.kind == "int" else float(raw)
            except ValueError:
                what = "a whole number" if f.kind == "int" else "a number"
                raise PolicyError(f"{f.path}: must be {what} (got {raw!r})") from None
        head, _, tail = f.path.partition(".")
        if tail:
            doc[head][tail] = value
        else:
            doc[head] = value
    return doc


def day_of(value: str | None, default: date) -> date:
    """A what-if period's day from the form (YYYY-MM-DD), or ``default`` when left empty."""
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        raise PolicyError(f"period: {value!r} is not a date (YYYY-MM-DD)") from None
