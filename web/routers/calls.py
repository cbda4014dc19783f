"""The calls API: the stored calls newest first, one call with everything that happened in it,
its raw event log, and the agent's disposition of a transfer they took. Supervisors and admins
see every call; an agent only the calls they took."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from store import Store
from store.accounts import AccountError
from web.auth import Principal
from web.dependencies import ApiUser, StoreDep
from web.problems import Problem, ProblemError
from web.schemas import DispositionRequest

router = APIRouter(prefix="/api")
signed_in = ApiUser()


def visible_call(store: Store, call_id: str, who: Principal) -> dict[str, Any]:
    call = store.get_call(call_id)
    if call is None:
        raise HTTPException(404, f"no call {call_id}")
    if not who.can("calls.read") and call.get("agent") != who.name:
        raise HTTPException(403, "agents see only the calls they took")
    return call


@router.get("/calls", dependencies=[Depends(ApiUser("calls.read"))])
def list_calls(store: StoreDep, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> dict[str, Any]:
    return {"calls": store.list_calls(limit, offset), "total": store.count_calls(), "limit": limit, "offset": offset}


@router.get("/calls/{call_id}")
def get_call(call_id: str, store: StoreDep, who: Principal = Depends(signed_in)) -> dict[str, Any]:
    call = visible_call(store, call_id, who)
    call["dispositions"] = store.accounts.dispositions(call_id)
    return call


@router.get("/calls/{call_id}/events")
def get_events(call_id: str, store: StoreDep, who: Principal = Depends(signed_in)) -> dict[str, Any]:
    visible_call(store, call_id, who)
    return {"call_id": call_id, "events": store.get_events(call_id)}


@router.post("/calls/{call_id}/disposition", status_code=201)
def add_disposition(call_id: str, body: DispositionRequest, store: StoreDep,
                    who: Principal = Depends(signed_in)) -> dict[str, Any]:
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
        raise ProblemError(Problem(422, str(exc), str(exc).split(":", 1)[0])) from None
    return {"id": did, "call_id": call_id}
