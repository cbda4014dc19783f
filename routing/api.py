"""The HTTP API over the store: calls, and the escalation policy (read, edit, history, rollback).

    add_api_routes(app, store, admin_token=os.environ.get("IVR_ADMIN_TOKEN"))

Auth, for now, is one dependency (``require_admin``) that the web issue can swap for users and
roles: with an admin token set (the argument, else ``IVR_ADMIN_TOKEN``), every ``/api`` route
needs ``Authorization: Bearer <token>`` (401 otherwise); with none set, only loopback clients
are served (403 otherwise). The token is compared in constant time and never logged or echoed.

Routes:
    GET  /api/calls?limit=50&offset=0   {"calls": [...newest first], "total", "limit", "offset"}
    GET  /api/calls/{id}                the call with turns, bot replies, decision, transfer
                                        attempts, summary, survey, callbacks (404 when unknown)
    GET  /api/calls/{id}/events         the call's raw event log
    GET  /api/policy                    Policy.to_dict() of the newest version
    PUT  /api/policy?comment=...        a whole policy document (every field; ``version``, if
                                        given, must be the newest: 409 otherwise); 422 naming the
                                        field when a value is invalid (nothing changes); 200 with
                                        the new version's document
    GET  /api/policy/history?limit=100  versions newest first, each with author, time, comment,
                                        document, and the audit diff that made it
    POST /api/policy/rollback/{version} makes an old version current again (as a new version)
    GET  /api/metrics/summary           containment, escalations by reason, time to transfer,
                                        transfers answered vs abandoned, survey scores
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from routing.policy import Policy, PolicyError
from routing.store import PolicyConflict, Store
from routing.store.clean import flatten

log = logging.getLogger("routing.api")

_REQUIRED_FIELDS = frozenset(flatten(Policy().to_dict())) - {"version"}


@dataclass(frozen=True)
class Principal:
    """Who is calling the API; ``name`` is what the policy audit records as the author."""

    name: str
    how: str  # "token" or "loopback"


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


def make_auth_dependency(admin_token: str | None) -> Callable[[Request], Principal]:
    """The one auth check: a Bearer token when one is configured, else loopback only."""
    token = admin_token or os.environ.get("IVR_ADMIN_TOKEN") or None
    expected = token.encode() if token else None

    def require_admin(request: Request) -> Principal:
        if expected is not None:
            header = request.headers.get("authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
                raise HTTPException(401, "a valid admin token is required (Authorization: Bearer ...)",
                                    headers={"WWW-Authenticate": "Bearer"})
            return Principal("admin", "token")
        host = request.client.host if request.client else None
        if not _is_loopback(host):
            raise HTTPException(403, "the API is served to loopback only while IVR_ADMIN_TOKEN is unset")
        return Principal("local-admin", "loopback")

    return require_admin


# Policy's own field names → where they sit in the document.
_DOC_PATHS = {"frustration_threshold": "frustration.threshold", "frustration_turns": "frustration.turns",
              "frustration_ceiling": "frustration.ceiling"}


def _policy_error(exc: PolicyError) -> JSONResponse:
    msg = str(exc)
    field = msg.split(":", 1)[0].strip() if ":" in msg else None
    field = _DOC_PATHS.get(field or "", field)
    return JSONResponse(status_code=422, content={"detail": msg, "field": field})


def add_api_routes(app: FastAPI, store: Store, *, admin_token: str | None) -> None:
    require_admin = make_auth_dependency(admin_token)
    router = APIRouter(prefix="/api", dependencies=[Depends(require_admin)])

    @router.get("/calls")
    def list_calls(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> dict[str, Any]:
        return {"calls": store.list_calls(limit, offset), "total": store.count_calls(), "limit": limit,
                "offset": offset}

    @router.get("/calls/{call_id}")
    def get_call(call_id: str) -> dict[str, Any]:
        call = store.get_call(call_id)
        if call is None:
            raise HTTPException(404, f"no call {call_id}")
        return call

    @router.get("/calls/{call_id}/events")
    def get_events(call_id: str) -> dict[str, Any]:
        if store.get_call(call_id) is None:
            raise HTTPException(404, f"no call {call_id}")
        return {"call_id": call_id, "events": store.get_events(call_id)}

    @router.get("/policy")
    def get_policy() -> dict[str, Any]:
        _, policy = store.current_policy()
        return policy.to_dict()

    @router.put("/policy", response_model=None)
    def put_policy(doc: Any = Body(...), comment: str | None = Query(None, max_length=1000),
                   who: Principal = Depends(require_admin)) -> dict[str, Any] | JSONResponse:
        if not isinstance(doc, dict):
            return _policy_error(PolicyError("policy: must be a JSON object of rules"))
        expected = doc.pop("version", None)
        if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
            return _policy_error(PolicyError(f"version: must be the version the edit started from (got {expected!r})"))
        try:
            policy = Policy.from_dict(doc)
            missing = sorted(_REQUIRED_FIELDS - set(flatten(doc)))
            if missing:
                raise PolicyError(f"{missing[0]}: required (PUT takes the whole policy document)")
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

    @router.get("/policy/history")
    def policy_history(limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        return {"versions": store.policy_history(limit)}

    @router.post("/policy/rollback/{version}")
    def rollback_policy(version: int, comment: str | None = Query(None, max_length=1000),
                        who: Principal = Depends(require_admin)) -> dict[str, Any]:
        try:
            new_version = store.rollback_policy(version, who.name, comment)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        log.info("policy: rolled back to version %d as version %d by %s", version, new_version, who.name)
        saved = store.get_policy_version(new_version)
        assert saved is not None
        return saved.to_dict()

    @router.get("/metrics/summary")
    def metrics_summary() -> dict[str, Any]:
        return store.metrics()

    app.include_router(router)


__all__ = ["add_api_routes", "make_auth_dependency", "Principal"]
