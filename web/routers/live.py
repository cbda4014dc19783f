"""The live view: calls in progress with their state, intent and frustration per turn, as JSON
(``GET /api/live``) and as the supervisors' page (``/live``, refreshed by /static/live.js)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from store.views import live_calls
from web.auth import Principal
from web.dependencies import ApiUser, PageUser, StoreDep
from web.templating import render

router = APIRouter()


@router.get("/api/live", dependencies=[Depends(ApiUser("live.read"))])
def live(store: StoreDep) -> dict[str, Any]:
    return {"calls": live_calls(store.engine)}


@router.get("/live", response_class=HTMLResponse, include_in_schema=False)
def live_page(request: Request, store: StoreDep, who: Principal = Depends(PageUser("live.read"))) -> HTMLResponse:
    return render(request, "live.html", who, nav="live", live=live_calls(store.engine), recent=store.list_calls(25))
