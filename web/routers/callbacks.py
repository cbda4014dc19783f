"""The callback queue on the panel and in the API: what was promised, what is being placed, what
was done or failed; a supervisor can cancel one or have it placed now. Both only change the store,
so the scheduler of whichever worker is free next picks the change up (routing.callbacks)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from store import Store
from web.auth import Principal
from web.dependencies import ApiUser, PageUser, StoreDep, csrf_form
from web.templating import render

router = APIRouter()
STATUSES = ("pending", "in_progress", "done", "failed", "cancelled")
_ACTIONS = {"cancel": ("cancel", "cancelled"), "call-now": ("call_now", "due now")}


def _status(value: str | None) -> str | None:
    if value is not None and value not in STATUSES:
        raise HTTPException(422, f"status: one of {', '.join(STATUSES)}")
    return value


def _act(store: Store, callback_id: str, action: str) -> dict[str, Any]:
    if action not in _ACTIONS:
        raise HTTPException(404, f"no action {action!r}")
    row = store.callbacks.get(callback_id)
    if row is None:
        raise HTTPException(404, f"no callback {callback_id}")
    if not getattr(store.callbacks, _ACTIONS[action][0])(callback_id):
        raise HTTPException(409, f"callback {callback_id} is {row['status']}: cannot {action.replace('-', ' ')}")
    return store.callbacks.get(callback_id) or row


@router.get("/api/callbacks", dependencies=[Depends(ApiUser("calls.read"))])
def list_callbacks(store: StoreDep, status: str | None = None, limit: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    return {"callbacks": store.callbacks.list(_status(status), limit), "counts": store.callbacks.counts()}


@router.get("/api/callbacks/{callback_id}", dependencies=[Depends(ApiUser("calls.read"))])
def get_callback(callback_id: str, store: StoreDep) -> dict[str, Any]:
    row = store.callbacks.get(callback_id)
    if row is None:
        raise HTTPException(404, f"no callback {callback_id}")
    return row


@router.post("/api/callbacks/{callback_id}/{action}", dependencies=[Depends(ApiUser("callbacks.manage"))])
def act_on_callback(callback_id: str, action: str, store: StoreDep) -> dict[str, Any]:
    """``cancel`` (pending or in progress) or ``call-now`` (pending: skip the backoff; failed: try again)."""
    return _act(store, callback_id, action)


@router.get("/callbacks", response_class=HTMLResponse, include_in_schema=False)
def callbacks_page(request: Request, store: StoreDep, done: str | None = None,
                   who: Principal = Depends(PageUser("calls.read"))) -> HTMLResponse:
    rows = store.callbacks.list(None, 500)
    groups = {s: [r for r in rows if r["status"] == s] for s in STATUSES}
    return render(request, "callbacks.html", who, nav="callbacks", groups=groups, message=done,
                  can_manage=who.can("callbacks.manage"))


@router.post("/callbacks/{callback_id}/{action}", include_in_schema=False, response_model=None)
async def callbacks_action(request: Request, callback_id: str, action: str, store: StoreDep,
                           who: Principal = Depends(PageUser("callbacks.manage"))) -> RedirectResponse:
    await csrf_form(request, who)
    _act(store, callback_id, action)
    return RedirectResponse(f"/callbacks?done=Callback+{_ACTIONS[action][1].replace(' ', '+')}", status_code=303)
