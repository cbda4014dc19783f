"""The hand-off summary an agent reads in the five seconds the phone rings.

One paragraph for the human, plus the structured fields the agent desktop
and the SIP headers carry. Card numbers are redacted from the transcript and
the paragraph before they leave the NLU.
"""

from __future__ import annotations

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
    )
