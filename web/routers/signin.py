"""Signing in and out of the panel (a form with its own CSRF cookie, throttled), the front page
(agents to their desktop, others to the live view) and ``GET /api/me``."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_TTL, Principal, safe_next
from web.dependencies import ApiUser, AuthDep, PageUser, StoreDep, csrf_form
from web.templating import render

log = logging.getLogger("web.panel")

router = APIRouter()


def _login_form(request: Request, status: int = 200, **ctx: Any) -> HTMLResponse:
    """The sign-in page with a fresh CSRF token in its form and in a cookie for /login only."""
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", None, status, csrf=token, **ctx)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                    secure=request.url.scheme == "https")
    return resp


@router.get("/api/me")
def me(who: Principal = Depends(ApiUser())) -> dict[str, Any]:
    # The CSRF token too: a script on another site cannot read this response (no CORS).
    return {"name": who.name, "role": who.role, "csrf": who.csrf}


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_form(request, next=safe_next(next), error=None)


@router.post("/login", response_model=None, include_in_schema=False)
async def login(request: Request, auth: AuthDep) -> Response:
    form = await request.form()
    name, password = str(form.get("name") or "")[:64], str(form.get("password") or "")[:1024]
    target = safe_next(str(form.get("next") or "/"))
    given, expected = str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE) or ""

    def again(status: int, error: str, headers: dict[str, str] | None = None) -> HTMLResponse:
        resp = _login_form(request, status, next=target, error=error, name=name)
        resp.headers.update(headers or {})
        return resp

    if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
        return again(403, "The sign-in form expired; please try again.")
    client = request.client.host if request.client else "?"
    result = auth.sign_in(client, name, password)
    if isinstance(result, float):
        wait = int(result) + 1
        log.warning("sign-in throttled for %s", client)
        return again(429, f"Too many failed sign-ins. Try again in {wait} s.", {"Retry-After": str(wait)})
    if result is None:
        log.info("sign-in refused from %s", client)
        return again(401, "Wrong user name or password.")
    cookie, _csrf = result
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax", path="/",
                    max_age=int(SESSION_TTL.total_seconds()), secure=request.url.scheme == "https")
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    log.info("signed in: %s", name)
    return resp


@router.post("/logout", response_model=None, include_in_schema=False)
async def logout(request: Request, store: StoreDep, who: Principal = Depends(PageUser())) -> Response:
    await csrf_form(request, who)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        store.accounts.end_session(cookie)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/", response_model=None, include_in_schema=False)
def home(who: Principal = Depends(PageUser())) -> Response:
    return RedirectResponse("/desktop" if who.role == "agent" else "/live", status_code=303)
