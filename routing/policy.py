"""The escalation policy: rules as data, and one pure function that decides.

A decision names the rule that tripped and the values it saw, so every transfer can be explained
(and replayed under a different policy). The dialog may propose a hand-over of its own (a flow
that is human-only, a caller who failed verification); the policy records it under its reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULT_POLICY_PATH = Path(__file__).parent / "data" / "policy.yaml"
REASONS = ("frustration", "explicit_request", "dtmf", "sensitive_intent", "no_match", "no_input", "max_bot_time", "tier")


class PolicyError(ValueError):
    """A policy value that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Policy:
    frustration_threshold: float = 0.6
    frustration_turns: int = 2
    frustration_ceiling: float = 0.85
    explicit_request: bool = True
    dtmf_zero: bool = True
    sensitive_intents: tuple[str, ...] = ("fraud_stolen_card", "complaint", "billing_dispute", "cancel_service")
    max_no_match: int = 3
    max_no_input: int = 3
    max_bot_seconds: float = 300.0
    always_human_tiers: tuple[str, ...] = ()
    version: int = 1

    def __post_init__(self):
        def need(cond: bool, name: str, what: str) -> None:
            if not cond:
                raise PolicyError(f"{name}: {what} (got {getattr(self, name)!r})")

        for name in ("frustration_threshold", "frustration_ceiling"):
            v = getattr(self, name)
            need(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0, name, "must be a number from 0 to 1")
        for name in ("frustration_turns", "max_no_match", "max_no_input", "version"):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 1, name, "must be a whole number of at least 1")
        v = self.max_bot_seconds
        need(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0, "max_bot_seconds", "must be a positive number of seconds")
        for name in ("explicit_request", "dtmf_zero"):
            need(isinstance(getattr(self, name), bool), name, "must be true or false")
        for name in ("sensitive_intents", "always_human_tiers"):
            v = getattr(self, name)
            need(isinstance(v, tuple) and all(isinstance(x, str) and x for x in v), name, "must be a list of names")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Policy":
        if not isinstance(doc, Mapping):
            raise PolicyError("policy: must be a mapping of rules")
        doc = dict(doc)
        fr = doc.pop("frustration", {}) or {}
        if not isinstance(fr, Mapping):
            raise PolicyError("frustration: must be a mapping with threshold, turns, ceiling")
        flat: dict[str, Any] = {}
        for key, field_name in (("threshold", "frustration_threshold"), ("turns", "frustration_turns"), ("ceiling", "frustration_ceiling")):
            if key in fr:
                flat[field_name] = fr[key]
        unknown_fr = set(fr) - {"threshold", "turns", "ceiling"}
        if unknown_fr:
            raise PolicyError(f"frustration.{sorted(unknown_fr)[0]}: unknown field")
        known = {f for f in cls.__dataclass_fields__}
        for k, v in doc.items():
            if k not in known:
                raise PolicyError(f"{k}: unknown field")
            flat[k] = tuple(v) if isinstance(v, list) else v
        return cls(**flat)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {
            "version": d["version"],
            "frustration": {"threshold": d["frustration_threshold"], "turns": d["frustration_turns"], "ceiling": d["frustration_ceiling"]},
            "explicit_request": d["explicit_request"],
            "dtmf_zero": d["dtmf_zero"],
            "sensitive_intents": list(d["sensitive_intents"]),
            "max_no_match": d["max_no_match"],
            "max_no_input": d["max_no_input"],
            "max_bot_seconds": d["max_bot_seconds"],
            "always_human_tiers": list(d["always_human_tiers"]),
        }


def load_policy(path: str | Path = DEFAULT_POLICY_PATH) -> Policy:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read policy ({exc})") from None
    return Policy.from_dict(doc or {})


@dataclass
class Signals:
    """What the call looks like after a caller turn (or a key press)."""

    # The intent the dialog accepted (a flow it started, a person it agreed to get), not the
    # classifier's guess: an unsure one is confirmed first (nlu/evidence.py), so it is None until then.
    intent: str | None = None
    frustration: list[float] = field(default_factory=list)  # smoothed, one per caller turn
    frustration_raw: list[float] = field(default_factory=list)
    no_match: int = 0
    no_input: int = 0
    dtmf: str | None = None
    bot_seconds: float = 0.0
    tier: str | None = None
    dialog_escalation: str | None = None  # the dialog's own hand-over reason, if any


@dataclass(frozen=True)
class Decision:
    action: str  # "transfer"
    reason: str  # one of REASONS
    rule: str  # the rule as written, e.g. "frustration >= 0.6 for 2 turns"
    values: dict[str, Any]
    policy_version: int

    def to_event(self) -> "DecisionEvent":  # noqa: F821
        from calls.events import DecisionEvent  # here, not at the top: only this method needs it

        return DecisionEvent(action=self.action, reason=self.reason, rule=self.rule, values=self.values,
                             policy_version=self.policy_version)


_DIALOG_REASONS = {
    "human_requested": "explicit_request",
    "human_only_intent": "sensitive_intent",
    "frustration": "frustration",
    "no_match_limit": "no_match",
    "unresolved": "no_match",
    "verification_failed": "sensitive_intent",
    "no_input_limit": "no_input",
}


def decide(policy: Policy, s: Signals) -> Decision | None:
    """The first rule that trips, in order of how plainly the caller asked for a person."""

    def transfer(reason: str, rule: str, **values: Any) -> Decision:
        return Decision("transfer", reason, rule, values, policy.version)

    if policy.dtmf_zero and s.dtmf == "0":
        return transfer("dtmf", "dtmf_zero: caller pressed 0", dtmf=s.dtmf)
    if policy.explicit_request and (s.intent == "speak_to_human" or s.dialog_escalation == "human_requested"):
        return transfer("explicit_request", "explicit_request: caller asked for a person", intent=s.intent)
    if s.intent in policy.sensitive_intents:
        return transfer("sensitive_intent", f"sensitive_intents contains {s.intent}", intent=s.intent)
    if s.tier and s.tier in policy.always_human_tiers:
        return transfer("tier", f"always_human_tiers contains {s.tier}", tier=s.tier)
    if s.frustration_raw and s.frustration_raw[-1] >= policy.frustration_ceiling:
        return transfer("frustration", f"frustration ceiling: one turn >= {policy.frustration_ceiling}",
                        score=round(s.frustration_raw[-1], 3))
    recent = s.frustration[-policy.frustration_turns :]
    if len(recent) == policy.frustration_turns and all(v >= policy.frustration_threshold for v in recent):
        return transfer("frustration", f"frustration >= {policy.frustration_threshold} for {policy.frustration_turns} turns",
                        scores=[round(v, 3) for v in recent])
    if s.no_match >= policy.max_no_match:
        return transfer("no_match", f"max_no_match: {policy.max_no_match} turns not understood", no_match=s.no_match)
    if s.no_input >= policy.max_no_input:
        return transfer("no_input", f"max_no_input: {policy.max_no_input} silences", no_input=s.no_input)
    if s.bot_seconds >= policy.max_bot_seconds:
        return transfer("max_bot_time", f"max_bot_seconds: {policy.max_bot_seconds:g} s with the bot",
                        bot_seconds=round(s.bot_seconds, 1))
    if s.dialog_escalation:
        reason = _DIALOG_REASONS.get(s.dialog_escalation, "no_match")
        return transfer(reason, f"dialog hand-over: {s.dialog_escalation}", dialog=s.dialog_escalation, intent=s.intent)
    return None
