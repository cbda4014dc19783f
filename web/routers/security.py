"""``GET /api/security``: what the password-guessing guard holds (`store.auth_guard`), for the panel.

Agents whose phone name went past its threshold of failed digest answers (`auth_flagged`), panel
users past theirs, and the source addresses refused now, with until when. Supervisors read it;
``POST /api/security/clear`` (admins) forgets a user's count and flag once someone has looked.
"""

from __future__ import annotations

import time
from typing import Any

from urllib.parse import quote_plus

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field, ValidationError

from store import Store
from web.auth import Principal
from web.dependencies import ApiUser, DepsDep, PageUser, StoreDep, WebDeps, csrf_form
from web.templating import render

router = APIRouter(prefix="/api/security", tags=["security"])
pages = APIRouter()  # the panel's page of the same


class ClearFlag(BaseModel):
    scope: str = Field(pattern="^(sip|web)$")
    user: str = Field(min_length=1, max_length=128)


def report(store: Store, deps: WebDeps) -> dict[str, Any]:
    """What the API and the panel page show: flagged names per scope, blocked sources."""
    guard = store.auth_failures
    sip, web = guard.flagged("sip"), guard.flagged("web")
    ids = [a.id for a in deps.desktop.directory] if deps.desktop is not None else sorted(sip)
    return {"agents": [{"id": i, "auth_flagged": i in sip, "flagged_at": sip.get(i)} for i in ids],
            "sip_flagged": sip, "web_flagged": web, "blocked_sources": guard.blocked_sources()}


@router.get("", dependencies=[Depends(ApiUser("live.read"))])
def security(store: StoreDep, deps: DepsDep) -> dict[str, Any]:
    return report(store, deps)


@pages.get("/security", response_class=HTMLResponse, include_in_schema=False)
def security_page(request: Request, store: StoreDep, deps: DepsDep, done: str | None = None,
                  who: Principal = Depends(PageUser("live.read"))) -> HTMLResponse:
    return render(request, "security.html", who, nav="security", report=report(store, deps), message=done,
                  can_clear=who.can("users.manage"), when=_when)


@pages.post("/security/clear", include_in_schema=False, response_model=None)
async def security_clear(request: Request, store: StoreDep,
                         who: Principal = Depends(PageUser("users.manage"))) -> RedirectResponse:
    form = await csrf_form(request, who)
    try:
        body = ClearFlag(scope=form.get("scope", ""), user=form.get("user", ""))
    except ValidationError:
        return RedirectResponse("/security?done=Nothing+cleared", status_code=303)
    store.auth_failures.clear(body.scope, body.user)
    return RedirectResponse(f"/security?done=Cleared+{quote_plus(body.user)}", status_code=303)


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else ""


@router.post("/clear", dependencies=[Depends(ApiUser("users.manage"))])
def clear(body: ClearFlag, store: StoreDep) -> dict[str, Any]:
    store.auth_failures.clear(body.scope, body.user)
    return {"cleared": body.user, "scope": body.scope}
