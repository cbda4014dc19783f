"""The panel's policy pages: the editor (a form of `web.forms.FIELDS`; saved through the same
`web.policy_edits.save_policy` as the API, so the same limits and the same refusals, shown at
the field), its what-if button, the audited history and rollback."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from routing.policy import PolicyError
from routing.whatif import what_if
from store import Store
from store.views import replay_inputs
from web.auth import Principal
from web.dependencies import ApiUser, PageUser, StoreDep, csrf_form
from web.forms import FIELDS, day_of, form_to_policy_doc, policy_values
from web.policy_edits import merged_policy, rollback_to, save_policy
from web.problems import ProblemError
from web.schemas import VersionPath
from web.templating import render

router = APIRouter(include_in_schema=False)


def policy_page(request: Request, store: Store, who: Principal, status: int = 200, *, values: dict | None = None,
                error: str | None = None, error_field: str | None = None, saved: int | None = None) -> HTMLResponse:
    version, policy = store.current_policy()
    today = date.today()
    return render(request, "policy.html", who, status, nav="policy", fields=FIELDS, version=version,
                  values=values or policy_values(policy.to_dict()), can_edit=who.can("policy.write"),
                  error=error, error_field=error_field, saved=saved,
                  since=(today - timedelta(days=7)).isoformat(), until=today.isoformat())


@router.get("/policy", response_class=HTMLResponse)
def policy_get(request: Request, store: StoreDep, saved: int | None = None,
               who: Principal = Depends(PageUser("policy.read"))) -> HTMLResponse:
    return policy_page(request, store, who, saved=saved)


@router.post("/policy", response_model=None)
async def policy_post(request: Request, store: StoreDep, who: Principal = Depends(PageUser("policy.write"))) -> Response:
    form = await csrf_form(request, who)
    shown = {f.path: form.get(f.path, "") if f.kind != "bool" else form.get(f.path) == "true" for f in FIELDS}
    try:
        doc = form_to_policy_doc(form)
        version = int(form.get("version") or 0) or None
    except (PolicyError, ValueError) as exc:
        return policy_page(request, store, who, 422, values=shown, error=str(exc), error_field=str(exc).split(":")[0])
    if version is not None:
        doc["version"] = version
    try:
        saved = save_policy(store, doc, who, form.get("comment") or None)
    except ProblemError as exc:
        return policy_page(request, store, who, exc.problem.status, values=shown, error=exc.problem.detail,
                           error_field=exc.problem.field)
    return RedirectResponse(f"/policy?saved={saved['version']}", status_code=303)


@router.post("/policy/whatif", response_model=None)
async def policy_whatif(request: Request, store: StoreDep, who: Principal = Depends(ApiUser("policy.read"))) -> Any:
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        proposed = merged_policy(store.current_policy()[1], form_to_policy_doc(data))
        today = date.today()
        start = day_of(data.get("since"), today - timedelta(days=7))
        end = day_of(data.get("until"), today)
    except PolicyError as exc:
        return JSONResponse({"detail": str(exc), "field": str(exc).split(":")[0]}, status_code=422)
    since = datetime.combine(start, time.min, timezone.utc)
    until = datetime.combine(end + timedelta(days=1), time.min, timezone.utc)  # the last day included
    return what_if(replay_inputs(store.engine, since, until), proposed).to_dict()


@router.get("/policy/history", response_class=HTMLResponse)
def history_page(request: Request, store: StoreDep, rolled: int | None = None,
                 who: Principal = Depends(PageUser("policy.read"))) -> HTMLResponse:
    message = f"Rolled back: version {rolled} is now current." if rolled else None
    return render(request, "history.html", who, nav="history", versions=store.policy_history(100),
                  can_edit=who.can("policy.write"), message=message)


@router.post("/policy/rollback/{version}", response_model=None)
async def rollback_page(request: Request, version: VersionPath, store: StoreDep,
                        who: Principal = Depends(PageUser("policy.write"))) -> Response:
    await csrf_form(request, who)
    saved = rollback_to(store, version, who, f"rollback to version {version} from the panel")
    return RedirectResponse(f"/policy/history?rolled={saved['version']}", status_code=303)
