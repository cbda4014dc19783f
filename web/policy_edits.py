"""Editing the escalation policy, shared by the JSON API and the panel's form: save a whole
document (validated by `web.schemas.PolicyDocument`, then built by `routing.policy.Policy`),
roll back to an old version, or merge a partial document for a what-if. Refused saves raise
`web.problems.ProblemError` (422 naming the field, 409 when someone saved first)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException
from pydantic import ValidationError

from routing.policy import Policy, PolicyError
from store import PolicyConflict, Store
from web.auth import Principal
from web.problems import Problem, ProblemError, policy_problem, validation_problem
from web.schemas import PolicyDocument

log = logging.getLogger("web.policy")


def validated(doc: Any) -> PolicyDocument:
    """``doc`` as a `PolicyDocument`, or a 422 `ProblemError` in the policy's words."""
    try:
        return PolicyDocument.model_validate(doc)
    except ValidationError as exc:
        raise ProblemError(validation_problem(exc.errors(), doc, policy=True)) from None


def save_document(store: Store, doc: PolicyDocument, who: Principal, comment: str | None) -> dict[str, Any]:
    """Save a validated document as the newest version; that version's document."""
    try:
        rules = doc.rules()
        policy = Policy.from_dict(rules)  # the domain's own check, which the model mirrors
        if doc.lacks_later_fields():  # an older client's whole document: keep the current values
            policy = merged_policy(store.current_policy()[1], rules)
        version = store.save_policy(policy, who.name, comment, expected_version=doc.version)
    except PolicyError as exc:
        raise ProblemError(policy_problem(exc)) from None
    except PolicyConflict as exc:
        raise ProblemError(Problem(409, str(exc), "version", current_version=exc.current)) from None
    log.info("policy: version %d saved by %s", version, who.name)
    saved = store.get_policy_version(version)
    assert saved is not None
    return saved.to_dict()


def save_policy(store: Store, doc: Any, who: Principal, comment: str | None) -> dict[str, Any]:
    """Validate a whole document as it came (the panel's form) and save it."""
    return save_document(store, validated(doc), who, comment)


def rollback_to(store: Store, version: int, who: Principal, comment: str | None) -> dict[str, Any]:
    """Make an old version current again, as a new version; 404 when there is no such version."""
    try:
        new_version = store.rollback_policy(version, who.name, comment)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None  # the panel shows its error page for it
    log.info("policy: rolled back to version %d as version %d by %s", version, new_version, who.name)
    saved = store.get_policy_version(new_version)
    assert saved is not None
    return saved.to_dict()


def merged_policy(current: Policy, doc: Any) -> Policy:
    """``doc`` over the current policy's document (nested ``frustration`` merged key by key),
    for a what-if: a partial document is fine here, and `Policy` does the checking."""
    if not isinstance(doc, dict):
        raise PolicyError("policy: must be a JSON object of rules")
    base = current.to_dict()
    base.pop("version", None)
    doc = {k: v for k, v in doc.items() if k != "version"}
    fr = doc.pop("frustration", None)
    if fr is not None and not isinstance(fr, dict):
        raise PolicyError("frustration: must be a mapping with threshold, turns, ceiling")
    merged = {**base, **doc, "frustration": {**base["frustration"], **(fr or {})}}
    return Policy.from_dict(merged)
