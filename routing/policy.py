"""The escalation policy: rules as data, and one pure function that decides.

A decision names the rule that tripped and the values it saw, so every transfer can be explained
(and replayed under a different policy). The dialog may propose a hand-over of its own (a flow
that is human-only, a caller who failed verification); the policy records it under its reason.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULT_POLICY_PATH = Path(__file__).parent / "data" / "policy.yaml"
REASONS = ("frustration", "explicit_request", "dtmf", "sensitive_intent", "no_match", "no_input", "max_bot_time", "tier")


class PolicyError(ValueError):
    """A policy value that cannot be used; the message names the field."""


# The limits of every rule, defined once: `Policy` checks them here (policies loaded from YAML)
# and the web's pydantic model of the policy document (`web.schemas`) declares the same bounds,
# so the two validators cannot disagree.
SCORE_MIN, SCORE_MAX = 0.0, 1.0  # a frustration score: the threshold and the ceiling
MIN_COUNT = 1  # turns in a row, limits in a row, a policy's version
MIN_SECONDS = 0.0  # max_bot_seconds must be more than this


@dataclass(frozen=True)
class Rule:
    """What one policy field must be: its kind and the words an error says."""

    kind: str  # "score", "count", "seconds", "flag" or "names"
    must: str


SCORE = Rule("score", f"must be a number from {SCORE_MIN:g} to {SCORE_MAX:g}")
COUNT = Rule("count", f"must be a whole number of at least {MIN_COUNT}")
SECONDS = Rule("seconds", "must be a positive number of seconds")
FLAG = Rule("flag", "must be true or false")
NAMES = Rule("names", "must be a list of names")

# Each field's rule, in the order `Policy` checks them (the first broken one is reported).
RULES: dict[str, Rule] = {
    "frustration_threshold": SCORE, "frustration_ceiling": SCORE,
    "frustration_turns": COUNT, "max_no_match": COUNT, "max_no_input": COUNT, "version": COUNT,
    "max_bot_seconds": SECONDS, "explicit_request": FLAG, "dtmf_zero": FLAG, "frustration_corroborate": FLAG,
    "sensitive_intents": NAMES, "always_human_tiers": NAMES,
}
# The nested ``frustration`` mapping of the document: its keys -> Policy's field names.
FRUSTRATION_KEYS = {"threshold": "frustration_threshold", "turns": "frustration_turns",
                    "ceiling": "frustration_ceiling", "corroborate": "frustration_corroborate"}
# Policy's field names -> where they sit in the document ("frustration.threshold", ...).
DOC_PATHS = {name: f"frustration.{key}" for key, name in FRUSTRATION_KEYS.items()}


def obeys(rule: Rule, value: Any) -> bool:
    """Whether ``value`` keeps ``rule`` (bools are not numbers; lists arrive as tuples)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if rule.kind == "score":
        return number and SCORE_MIN <= value <= SCORE_MAX
    if rule.kind == "count":
        return isinstance(value, int) and not isinstance(value, bool) and value >= MIN_COUNT
    if rule.kind == "seconds":
        return number and value > MIN_SECONDS
    if rule.kind == "flag":
        return isinstance(value, bool)
    return isinstance(value, tuple) and all(isinstance(x, str) and x for x in value)


@dataclass(frozen=True)
class Policy:
    frustration_threshold: float = 0.6
    frustration_turns: int = 2
    frustration_ceiling: float = 0.85
    # One turn at the ceiling transfers at once only when the score does not rest on one part
    # alone (see ``without_strongest_part``) or the turn before was at the threshold too.
    frustration_corroborate: bool = True
    explicit_request: bool = True
    dtmf_zero: bool = True
    sensitive_intents: tuple[str, ...] = ("fraud_stolen_card", "complaint", "billing_dispute", "cancel_service")
    max_no_match: int = 3
    max_no_input: int = 3
    max_bot_seconds: float = 300.0
    always_human_tiers: tuple[str, ...] = ()
    version: int = 1

    def __post_init__(self):
        for name, rule in RULES.items():
            value = getattr(self, name)
            if not obeys(rule, value):
                raise PolicyError(f"{name}: {rule.must} (got {value!r})")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Policy":
        if not isinstance(doc, Mapping):
            raise PolicyError("policy: must be a mapping of rules")
        doc = dict(doc)
        fr = doc.pop("frustration", {}) or {}
        if not isinstance(fr, Mapping):
            raise PolicyError("frustration: must be a mapping with threshold, turns, ceiling, corroborate")
        flat: dict[str, Any] = {}
        for key, field_name in FRUSTRATION_KEYS.items():
            if key in fr:
                flat[field_name] = fr[key]
        unknown_fr = set(fr) - set(FRUSTRATION_KEYS)
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
            "frustration": {key: d[field_name] for key, field_name in FRUSTRATION_KEYS.items()},
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
    if isinstance(doc, dict):
        doc.pop("skills", None)  # who takes which calls, beside the rules: routing.staffing reads it
    return Policy.from_dict(doc or {})


@dataclass
class Signals:
    """What the call looks like after a caller turn (or a key press)."""

    # The intent the dialog accepted (a flow it started, a person it agreed to get), not the
    # classifier's guess: an unsure one is confirmed first (nlu/evidence.py), so it is None until then.
    intent: str | None = None
    frustration: list[float] = field(default_factory=list)  # smoothed, one per caller turn
    frustration_raw: list[float] = field(default_factory=list)
    # Per caller turn, what each part added to the raw score's logit ({"text", "prosody",
    # "dialogue", "bias"}: nlu's fusion); empty where unknown (keypad turns, calls stored before).
    frustration_parts: list[Mapping[str, float]] = field(default_factory=list)
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


def without_strongest_part(parts: Mapping[str, float] | None) -> float | None:
    """The turn's score had its strongest part (words, voice or dialogue) told us nothing, or
    None when the parts are unknown.

    Each part is evidence from a different channel with its own way of being wrong: Whisper
    mishears a calm sentence into a complaint, a synthetic or unusual voice reads as agitated, a
    barge-in is a caller who knows the menu. Transferring on one turn is costly, so the ceiling
    asks that the score hold up without any single channel: two channels must agree.
    """
    if not isinstance(parts, Mapping):
        return None
    vals = {k: parts.get(k) for k in ("text", "prosody", "dialogue")}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals.values()):
        return None
    bias = parts.get("bias")
    bias = float(bias) if isinstance(bias, (int, float)) and not isinstance(bias, bool) and math.isfinite(bias) else 0.0
    logit = bias + sum(vals.values()) - max(0.0, *vals.values())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))


def _ceiling_trip(policy: Policy, s: Signals) -> tuple[str, dict[str, Any]] | None:
    """The last turn is at the ceiling: the rule that acts on it with the values it saw, or None
    while it is one observation from one channel. A second observation corroborates it: another
    channel in the same turn (the score holds without its strongest part), or the turn before
    already at the threshold (the same channel, heard again)."""
    c, score = policy.frustration_ceiling, round(s.frustration_raw[-1], 3)
    if not policy.frustration_corroborate or len(s.frustration_parts) != len(s.frustration_raw):
        return f"frustration ceiling: one turn >= {c}", {"score": score}
    rest = without_strongest_part(s.frustration_parts[-1])
    if rest is None:  # the parts were not kept (a call stored before they were)
        return f"frustration ceiling: one turn >= {c}", {"score": score}
    if rest >= policy.frustration_threshold:
        return (f"frustration ceiling: one turn >= {c}, still >= {policy.frustration_threshold} without its strongest part",
                {"score": score, "without_strongest": round(rest, 3)})
    if len(s.frustration_raw) >= 2 and s.frustration_raw[-2] >= policy.frustration_threshold:
        return (f"frustration ceiling: one turn >= {c} after one >= {policy.frustration_threshold}",
                {"score": score, "previous": round(s.frustration_raw[-2], 3)})
    return None


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
        tripped = _ceiling_trip(policy, s)
        if tripped is not None:
            return transfer("frustration", tripped[0], **tripped[1])
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
