"""The policy API: the newest version, a whole new document (``PUT``, schema `PolicyDocument`,
refusals as `Problem`), what-if over the stored calls, the audited history and rollback.

    PUT /api/policy?comment=...   every field; ``version``, if given, must be the newest (409
                                  otherwise); 422 naming the field when a value is invalid
                                  (nothing changes); 200 with the new version's document
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query

from routing.policy import PolicyError
from routing.whatif import what_if
from store.views import replay_inputs
from web.auth import Principal
from web.dependencies import ApiUser, StoreDep
from web.errors import PolicyDocumentRoute
from web.policy_edits import merged_policy, rollback_to, save_document
from web.problems import ProblemError, policy_problem
from web.schemas import PolicyDocument, ProblemBody, VersionPath, WhatIfRequest

router = APIRouter(prefix="/api/policy", tags=["policy"])
REFUSED = {422: {"model": ProblemBody, "description": "a value is invalid: ``field`` names it"}}


def _aware(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@router.get("", dependencies=[Depends(ApiUser("policy.read"))], responses={200: {"model": PolicyDocument}})
def get_policy(store: StoreDep) -> dict[str, Any]:
    _, policy = store.current_policy()
    return policy.to_dict()


def put_policy(doc: PolicyDocument, store: StoreDep, comment: str | None = Query(None, max_length=1000),
               who: Principal = Depends(ApiUser("policy.write"))) -> dict[str, Any]:
    """Save a whole policy document as the newest version."""
    return save_document(store, doc, who, comment)


router.add_api_route("", put_policy, methods=["PUT"], route_class_override=PolicyDocumentRoute,
                     responses={200: {"model": PolicyDocument}, **REFUSED,
                                409: {"model": ProblemBody, "description": "another version was saved since ``version``"}})


@router.post("/whatif", dependencies=[Depends(ApiUser("policy.read"))], responses=REFUSED)
def policy_whatif(body: WhatIfRequest, store: StoreDep) -> Any:
    now = datetime.now(timezone.utc)
    since, until = _aware(body.since, now - timedelta(days=7)), _aware(body.until, now)
    try:
        proposed = merged_policy(store.current_policy()[1], body.policy)
    except PolicyError as exc:
        raise ProblemError(policy_problem(exc)) from None
    result = what_if(replay_inputs(store.engine, since, until), proposed).to_dict()
    return {**result, "since": since, "until": until}


@router.get("/history", dependencies=[Depends(ApiUser("policy.read"))])
def policy_history(store: StoreDep, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    return {"versions": store.policy_history(limit)}


@router.post("/rollback/{version}")
def rollback_policy(version: VersionPath, store: StoreDep, comment: str | None = Query(None, max_length=1000),
                    who: Principal = Depends(ApiUser("policy.write"))) -> dict[str, Any]:
    return rollback_to(store, version, who, comment)
