"""The hand-off summary an agent reads in the five seconds the phone rings.

One paragraph for the human, plus the structured fields the agent desktop
and the SIP headers carry, plus a `headline` of a few words that the agent
hears as the whisper (the caller is on hold while it plays, so it is short;
the detail stays on the screen pop). Card numbers are redacted from the
transcript and the paragraph before they leave the NLU.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from .fusion import drove
from .redact import redact


@dataclass(frozen=True)
class Step:
    """Something the bot tried and how it went."""

    action: str  # e.g. "order_lookup", "verify", "password_reset", "faq"
    detail: str
    result: str  # e.g. "found: shipped", "not_found", "sent", "failed"


@dataclass(frozen=True)
class HandoffSummary:
    paragraph: str
    intent: str | None
    intents: list[str]
    entities: dict[str, Any]
    customer: dict[str, Any] | None
    verified: bool
    steps: list[Step]
    frustration: list[float]  # smoothed, one per caller turn
    frustration_raw: list[float]
    escalation_reason: str | None
    transcript: list[dict[str, str]]  # {"speaker": "caller"|"bot", "text": ...}, redacted
    turns: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # One per scored caller turn (silences and keyed entries included, as in `frustration`):
    # {"score": raw, "smoothed": ..., "parts": {"text", "prosody", "dialogue", "bias"} or None,
    #  "drove": "voice" | "words" | "dialogue" | None}: what the desktop's per-turn strip shows.
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    headline: str = ""  # what the agent hears before the bridge (`headline`)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["steps"] = [asdict(s) for s in self.steps]
        return d


_REASONS = {
    "human_requested": "asked for a person",
    "human_only_intent": "needs a person for this",
    "frustration": "is frustrated",
    "no_match_limit": "was not understood repeatedly",
    "no_input_limit": "went silent",
    "verification_failed": "failed security verification",
    "unresolved": "was not helped by the bot",
    # the policy's own reasons (routing.policy.REASONS)
    "dtmf": "pressed 0 for a person",
    "explicit_request": "asked for a person",
    "sensitive_intent": "needs a person for this",
    "no_match": "was not understood repeatedly",
    "no_input": "went silent",
    "max_bot_time": "spent too long with the bot",
    "tier": "is in a tier that always gets a person",
}
_INTENT_PHRASES = {
    "order_status": "an order", "password_reset": "a password reset", "account_balance": "their balance",
    "billing_dispute": "a disputed charge", "refund": "a refund", "cancel_service": "cancelling their service",
    "technical_problem": "a technical problem", "opening_hours": "a general question",
    "fraud_stolen_card": "a lost or stolen card / fraud", "complaint": "a complaint",
}


def _level(score: float) -> str:
    return "high" if score >= 0.7 else "rising" if score >= 0.45 else "low"


def turn_trajectory(raw: Sequence[float], smoothed: Sequence[float],
                    parts: Sequence[Mapping[str, float] | None] = ()) -> list[dict[str, Any]]:
    """The per-turn trajectory: each turn's raw and smoothed score, its parts (None where they
    are not known) and which part drove it (``nlu.fusion.drove``)."""
    out = []
    for i, (score, smooth) in enumerate(zip(raw, smoothed)):
        p = parts[i] if i < len(parts) else None
        p = {k: round(float(v), 3) for k, v in p.items()} if p else None
        out.append({"score": round(float(score), 3), "smoothed": round(float(smooth), 3), "parts": p, "drove": drove(p)})
    return out


def build_summary(
    *,
    intent: str | None,
    intents: list[str],
    entities: dict[str, Any],
    customer: dict[str, Any] | None,
    verified: bool,
    steps: list[Step],
    frustration: list[float],
    frustration_raw: list[float],
    escalation_reason: str | None,
    transcript: list[tuple[str, str]],
    frustration_parts: Sequence[Mapping[str, float] | None] = (),
) -> HandoffSummary:
    """Assemble the summary; the paragraph leads with who, what, and why now."""
    who = customer["name"] if customer else "Unidentified caller"
    if customer:
        who += f" ({customer.get('tier', '')} customer, account {customer.get('account_id')}"
        who += ", verified)" if verified else ", not verified)"
    about = _INTENT_PHRASES.get(intent or "", "an unclear request")
    parts = [f"{who} called about {about}."]
    ent_bits = [f"{k.replace('_', ' ')} {v}" for k, v in entities.items() if k in ("order_number", "account_id", "email", "amount", "date")]
    if ent_bits:
        parts.append("Gave " + ", ".join(ent_bits) + ".")
    if steps:
        parts.append("Bot tried: " + "; ".join(f"{s.action} {s.detail} → {s.result}".replace("  ", " ") for s in steps[-3:]) + ".")
    if frustration:
        cur = frustration[-1]
        parts.append(f"Frustration {_level(cur)} ({cur:.2f}, peak {max(frustration_raw or frustration):.2f}).")
    if escalation_reason:
        parts.append(f"Transferred because the caller {_REASONS.get(escalation_reason, escalation_reason)}.")
    paragraph = redact(" ".join(parts))
    return HandoffSummary(
        paragraph=paragraph,
        intent=intent,
        intents=list(intents),
        entities={k: redact(str(v)) if isinstance(v, str) else v for k, v in entities.items()},
        customer=customer,
        verified=verified,
        steps=list(steps),
        frustration=[round(x, 3) for x in frustration],
        frustration_raw=[round(x, 3) for x in frustration_raw],
        escalation_reason=escalation_reason,
        transcript=[{"speaker": s, "text": redact(t)} for s, t in transcript],
        turns=sum(1 for s, _ in transcript if s == "caller"),
        trajectory=turn_trajectory(frustration_raw, frustration, frustration_parts),
        headline=headline({"intent": intent, "customer": customer, "verified": verified, "frustration": frustration,
                           "entities": entities}, escalation_reason),
    )


# -- the headline: the whisper the agent hears while the caller waits ------------------------------

# Piper's joe-medium voice, measured over every headline this makes: ~0.04 s a character plus
# ~0.5 s at each comma's pause, so the budget is in words (digits one by one, as they are said)
# and in parts: four parts of 7 words ran to 4.6 s, three parts of 8 words stay near 4 s.
# tests/nlu/test_headline.py renders the longest ones with the real voice.
HEADLINE_MAX_WORDS = 8
HEADLINE_MAX_PARTS = 3
_TOPICS = {
    "fraud_stolen_card": "Stolen card", "order_status": "Order status", "password_reset": "Password reset",
    "account_balance": "Balance question", "billing_dispute": "Disputed charge", "refund": "Refund",
    "cancel_service": "Wants to cancel", "technical_problem": "Technical problem",
    "opening_hours": "General question", "complaint": "Complaint",
}
_MOODS = {"high": "caller upset", "rising": "caller annoyed"}  # a calm caller is no news: room for a fact
# Only what the topic and the mood do not already say (a frustration trip is the mood).
_SHORT_REASONS = {
    "dtmf": "pressed zero", "explicit_request": "asked for a person", "human_requested": "asked for a person",
    "verification_failed": "failed verification", "no_match": "not understood", "no_match_limit": "not understood",
    "no_input": "went silent", "no_input_limit": "went silent", "max_bot_time": "long with the bot",
    "tier": "priority customer",
}
_KEY_ENTITIES = (("order_number", "order"), ("amount", "amount"), ("date", "date"))


def _words(text: str) -> int:
    """Words as spoken: each digit is one (numbers are said digit by digit)."""
    return len(re.findall(r"\d|[^\W\d_]+", text))


def _key_entity(entities: Mapping[str, Any]) -> str | None:
    for key, label in _KEY_ENTITIES:
        value = entities.get(key)
        if value not in (None, ""):
            text = redact(str(value))
            digits = re.sub(r"\D", "", text)
            if key == "order_number" and digits and len(digits) == len(text.replace(" ", "")):
                # said digit by digit, its last four, as agents read them back
                text = " ".join(digits[-4:])
            return f"{label} {text}"
    return None


def headline(summary: Mapping[str, Any], reason: str | None = None) -> str:
    """The whisper: topic, mood, verification, why, one key fact, in that order of importance
    (and of speech), as many as fit HEADLINE_MAX_WORDS and HEADLINE_MAX_PARTS ("Stolen card, caller upset, verified account holder.").

    Pure, from the summary's dict (``HandoffSummary.to_dict()``) so the transfer can build it
    with the policy's own reason, which it learns after the summary was made."""
    reason = reason or summary.get("escalation_reason")
    topic = _TOPICS.get(summary.get("intent") or "", "Unclear request")
    frustration = summary.get("frustration") or []
    mood = _MOODS.get(_level(float(frustration[-1]))) if frustration else None
    if summary.get("customer"):
        who = "verified account holder" if summary.get("verified") else "not verified"
    else:
        who = "not identified"
    parts = [topic]
    for part in (mood, who, _SHORT_REASONS.get(reason or ""), _key_entity(summary.get("entities") or {})):
        if part and len(parts) < HEADLINE_MAX_PARTS and _words(", ".join(parts + [part])) <= HEADLINE_MAX_WORDS:
            parts.append(part)
    return redact(", ".join(parts) + ".")
