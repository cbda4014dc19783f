"""The JSON API over the store: calls, the live view, the escalation policy (read, edit,
what-if, history, rollback), dispositions and metrics. Who may call what is ``web.auth``'s
table: a session cookie (with its CSRF token on changes) or ``Authorization: Bearer
$IVR_ADMIN_TOKEN``; anonymous → 401, a role without the permission → 403.

Routes:
    GET  /api/me                        {"name", "role", "csrf"} (the token cookie-signed changes carry)
    GET  /api/calls?limit=50&offset=0   {"calls": [...newest first], "total", "limit", "offset"}
    GET  /api/calls/{id}                the call with turns, bot replies, decision, transfer
                                        attempts, summary, survey, callbacks, dispositions (404
                                        when unknown); agents: only calls they took
    GET  /api/calls/{id}/events         the call's raw event log
    POST /api/calls/{id}/disposition    the agent's verdict on a transfer they took
    GET  /api/live                      calls in progress: state, intent, frustration per turn
    GET  /api/policy                    Policy.to_dict() of the newest version
    PUT  /api/policy?comment=...        a whole policy document (every field; ``version``, if
                                        given, must be the newest: 409 otherwise); 422 naming the
                                        field when a value is invalid (nothing changes); 200 with
                                        the new version's document
    POST /api/policy/whatif             {"policy": doc, "since", "until"}: the stored calls of the
                                        period replayed under ``doc`` (nothing is saved)
    GET  /api/policy/history?limit=100  versions newest first, each with author, time, comment,
                                        document, and the audit diff that made it
    POST /api/policy/rollback/{version} makes an old version current again (as a new version)
    GET  /api/metrics/summary           containment, escalations by reason, time to transfer,
                                        transfers answered vs abandoned, survey scores
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from web.auth import Auth, Principal
from routing.policy import Policy, PolicyError
from store import PolicyConflict, Store
from store.accounts import REASON_TAGS, AccountError
from store.clean import flatten
from store.views import live_calls, replay_inputs
from routing.whatif import what_if

log = logging.getLogger("web.api")

# Fields added to the document after its first release: a whole document from an older client
# that lacks one keeps the current value rather than being refused.
_ADDED_LATER = frozenset({"frustration.corroborate"})
_REQUIRED_FIELDS = frozenset(flatten(Policy().to_dict())) - {"version"} - _ADDED_LATER


# Policy's own field names → where they sit in the document.
_DOC_PATHS = {"frustration_threshold": "frustration.threshold", "frustration_turns": "frustration.turns",
              "frustration_ceiling": "frustration.ceiling", "frustration_corroborate": "frustration.corroborate"}


def _policy_error(exc: PolicyError) -> JSONResponse:
    msg = str(exc)
    field = msg.split(":", 1)[0].strip() if ":" in msg else None
    field = _DOC_PATHS.get(field or "", field)
    return JSONResponse(status_code=422, content={"detail": msg, "field": field})


class WhatIfRequest(BaseModel):
    policy: dict[str, Any] = Field(description="a whole or partial policy document; missing fields keep the current value")
    since: datetime | None = Field(None, description="first call start (default: 7 days ago)")
    until: datetime | None = Field(None, description="last call start, exclusive (default: now)")


class DispositionRequest(BaseModel):
    escalation_right: bool = Field(description="was handing this call to a person the right call")
    caller_frustrated: bool | None = Field(None, description="was the caller frustrated when they reached you")
    reason_tag: str = Field(description="one of: " + ", ".join(REASON_TAGS))
    note: str | None = Field(None, max_length=2000)


def merged_policy(current: Policy, doc: Any) -> Policy:
    """``doc`` over the current policy's document (nested ``frustration`` merged key by key)."""
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


def _aware(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def add_api_routes(app: FastAPI, store: Store, auth: Auth) -> None:
    router = APIRouter(prefix="/api")
    signed_in = auth.api()

    @router.get("/me")
    def me(who: Principal = Depends(signed_in)) -> dict[str, Any]:
        # The CSRF token too: a script on another site cannot read this response (no CORS).
        return {"name": who.name, "role": who.role, "csrf": who.csrf}

    @router.get("/calls", dependencies=[Depends(auth.api("calls.read"))])
    def list_calls(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> dict[str, Any]:
        return {"calls": store.list_calls(limit, offset), "total": store.count_calls(), "limit": limit,
                "offset": offset}

    def visible_call(call_id: str, who: Principal) -> dict[str, Any]:
        call = store.get_call(call_id)
        if call is None:
            raise HTTPException(404, f"no call {call_id}")
        if not who.can("calls.read") and call.get("agent") != who.name:
            raise HTTPException(403, "agents see only the calls they took")
        return call

    @router.get("/calls/{call_id}")
    def get_call(call_id: str, who: Principal = Depends(signed_in)) -> dict[str, Any]:
        call = visible_call(call_id, who)
        call["dispositions"] = store.accounts.dispositions(call_id)
        return call

    @router.get("/calls/{call_id}/events")
    def get_events(call_id: str, who: Principal = Depends(signed_in)) -> dict[str, Any]:
        visible_call(call_id, who)
        return {"call_id": call_id, "events": store.get_events(call_id)}

    @router.post("/calls/{call_id}/disposition", status_code=201)
    def add_disposition(call_id: str, body: DispositionRequest, who: Principal = Depends(signed_in)) -> dict[str, Any]:
        call = store.get_call(call_id)
        if call is None:
            raise HTTPException(404, f"no call {call_id}")
        if call.get("agent") != who.name and who.role != "admin":
            raise HTTPException(403, "only the agent who took the call can file its disposition")
        try:
            did = store.accounts.add_disposition(call_id, who.name, escalation_right=body.escalation_right,
                                                 caller_frustrated=body.caller_frustrated,
                                                 reason_tag=body.reason_tag, note=body.note)
        except AccountError as exc:
            field = str(exc).split(":", 1)[0]
            return JSONResponse(status_code=422, content={"detail": str(exc), "field": field})
        return {"id": did, "call_id": call_id}

    @router.get("/live", dependencies=[Depends(auth.api("live.read"))])
    def live() -> dict[str, Any]:
        return {"calls": live_calls(store.engine)}

    @router.get("/policy", dependencies=[Depends(auth.api("policy.read"))])
    def get_policy() -> dict[str, Any]:
        _, policy = store.current_policy()
        return policy.to_dict()

    @router.put("/policy", response_model=None)
    def put_policy(doc: Any = Body(...), comment: str | None = Query(None, max_length=1000),
                   who: Principal = Depends(auth.api("policy.write"))) -> dict[str, Any] | JSONResponse:
        return save_policy_document(store, doc, who, comment, whole=True)

    @router.post("/policy/whatif", dependencies=[Depends(auth.api("policy.read"))])
    def policy_whatif(body: WhatIfRequest) -> Any:
        now = datetime.now(timezone.utc)
        since, until = _aware(body.since, now - timedelta(days=7)), _aware(body.until, now)
        try:
            proposed = merged_policy(store.current_policy()[1], body.policy)
        except PolicyError as exc:
            return _policy_error(exc)
        result = what_if(replay_inputs(store.engine, since, until), proposed).to_dict()
        return {**result, "since": since, "until": until}

    @router.get("/policy/history", dependencies=[Depends(auth.api("policy.read"))])
    def policy_history(limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        return {"versions": store.policy_history(limit)}

    @router.post("/policy/rollback/{version}")
    def rollback_policy(version: int, comment: str | None = Query(None, max_length=1000),
                        who: Principal = Depends(auth.api("policy.write"))) -> dict[str, Any]:
        return rollback_to(store, version, who, comment)

    @router.get("/metrics/summary", dependencies=[Depends(auth.api("metrics.read"))])
    def metrics_summary() -> dict[str, Any]:
        return store.metrics()

    app.include_router(router)


def save_policy_document(store: Store, doc: Any, who: Principal, comment: str | None, *,
                         whole: bool) -> dict[str, Any] | JSONResponse:
    """Validate and save; 422 naming the field, 409 when someone saved first. Shared with the panel."""
    if not isinstance(doc, dict):
        return _policy_error(PolicyError("policy: must be a JSON object of rules"))
    doc = dict(doc)
    expected = doc.pop("version", None)
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        return _policy_error(PolicyError(f"version: must be the version the edit started from (got {expected!r})"))
    try:
        policy = Policy.from_dict(doc)
        missing = sorted(_REQUIRED_FIELDS - set(flatten(doc))) if whole else []
        if missing:
            raise PolicyError(f"{missing[0]}: required (PUT takes the whole policy document)")
        if whole and _ADDED_LATER - set(flatten(doc)):
            policy = merged_policy(store.current_policy()[1], doc)
        version = store.save_policy(policy, who.name, comment, expected_version=expected)
    except PolicyError as exc:
        return _policy_error(exc)
    except PolicyConflict as exc:
        return JSONResponse(status_code=409, content={"detail": str(exc), "field": "version",
                                                      "current_version": exc.current})
    log.info("policy: version %d saved by %s", version, who.name)
    saved = store.get_policy_version(version)
    assert saved is not None
    return saved.to_dict()


def rollback_to(store: Store, version: int, who: Principal, comment: str | None) -> dict[str, Any]:
    try:
        new_version = store.rollback_policy(version, who.name, comment)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    log.info("policy: rolled back to version %d as version %d by %s", version, new_version, who.name)
    saved = store.get_policy_version(new_version)
    assert saved is not None
    return saved.to_dict()


__all__ = ["add_api_routes", "merged_policy", "save_policy_document", "rollback_to"]
