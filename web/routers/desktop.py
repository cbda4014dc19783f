"""The agent desktop's routes: a WebSocket per agent (`web.desktop` carries the conversation)
and the small page that shows it (plain HTML and JavaScript, no build step).

    WS  /ws/agent/{agent_id}?token=...   screen pops, transcript lines, presence (see web.desktop)
    GET /desktop                         a signed-in agent's own desktop (others: the live view)
    GET /desktop/{agent_id}[?token=...]  the page
    POST /desktop/{agent_id}/handback[?token=...]  {"call_id"}: pass the bridged caller back to the
                                         bot for the survey (routing.handback); 202, or 409 when no such bridge

Two ways in. A signed-in user (``web.auth`` session cookie) whose name is the agent id, or a
supervisor/admin watching; the socket then also needs an Origin of this host (no cross-site
socket hijacking). Or the agent's link token (`DesktopDeps.token_for_agent`). A socket for an
unknown agent or without either is accepted and closed at once with 1008 (policy violation), so
the browser sees why; the page answers 403 (or sends an anonymous visitor to sign in).
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from html import escape
from typing import Literal

from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect, WebSocketState

from web.auth import Principal
from web.dependencies import DepsDep, DesktopDeps, WebDeps
from web.desktop import POLICY_VIOLATION, listen, pump, same_origin_socket, token_ok
from web.problems import Problem
from web.templating import TEMPLATES

log = logging.getLogger("web.desktop")

router = APIRouter()
PAGE = TEMPLATES / "desktop.html"  # not Jinja: the page's nonce is put in by hand


def _session_user(deps: WebDeps, conn: HTTPConnection) -> Principal | None:
    return deps.auth.principal(conn) if deps.auth is not None else None


def _authorised(deps: WebDeps, agent_id: str, token: str | None, conn: HTTPConnection) -> bool:
    desk = deps.desktop
    assert desk is not None
    if agent_id not in desk.directory:
        return False
    if token:
        return token_ok(desk.token_for_agent, agent_id, token)
    who = _session_user(deps, conn)
    return who is not None and (who.name == agent_id or who.can("desktop.any"))


@router.websocket("/ws/agent/{agent_id}")
async def agent_socket(websocket: WebSocket, agent_id: str, deps: DepsDep, token: str | None = Query(None)) -> None:
    await websocket.accept()
    cross_site = not token and not same_origin_socket(websocket)
    if cross_site or not _authorised(deps, agent_id, token, websocket):
        log.info("desktop socket refused for agent %r", agent_id)
        await websocket.close(code=POLICY_VIOLATION, reason="not authorised for this agent")
        return
    await _converse(websocket, agent_id, deps.desktop)


async def _converse(websocket: WebSocket, agent_id: str, desk: DesktopDeps) -> None:
    """Hello, then the hub's messages out and the desktop's in, until either side ends."""
    directory = desk.directory
    agent = directory.get(agent_id)
    conn = desk.hub.connect(agent_id)
    tasks: list[asyncio.Task] = []
    try:
        await websocket.send_json({"type": "hello", "agent": agent.public(),
                                   "presence": directory.status(agent_id).to_dict(directory.clock())})
        tasks = [asyncio.create_task(pump(websocket, conn)),
                 asyncio.create_task(listen(websocket, agent_id, directory, desk.on_disposition))]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None and \
                    not isinstance(task.exception(), (WebSocketDisconnect, RuntimeError, OSError)):
                log.warning("desktop socket for %s: %r", agent_id, task.exception())
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        for task in tasks:  # the handler itself was cancelled (shutdown): stop both halves
            if not task.done():
                task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        desk.hub.disconnect(conn)
        if websocket.client_state is WebSocketState.CONNECTED:
            try:
                await websocket.close()
            except (RuntimeError, OSError):
                pass


@router.get("/desktop", response_model=None, include_in_schema=False)
def my_desktop(request: Request, deps: DepsDep) -> RedirectResponse:
    who = _session_user(deps, request)
    if who is None:
        return RedirectResponse("/login?next=%2Fdesktop", status_code=303)
    assert deps.desktop is not None
    return RedirectResponse(f"/desktop/{who.name}" if who.name in deps.desktop.directory else "/live", status_code=303)


@router.get("/desktop/{agent_id}", response_class=HTMLResponse, response_model=None, include_in_schema=False)
def desktop_page(request: Request, agent_id: str, deps: DepsDep,
                 token: str | None = Query(None)) -> HTMLResponse | RedirectResponse:
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
    if not token and deps.auth is not None and _session_user(deps, request) is None:
        return RedirectResponse(f"/login?next=%2Fdesktop%2F{agent_id}", status_code=303)
    if not _authorised(deps, agent_id, token, request):
        return HTMLResponse("<!doctype html><title>Forbidden</title><p>This link is not valid for this agent.</p>",
                            status_code=403, headers=headers)
    nonce = secrets.token_urlsafe(16)
    headers["Content-Security-Policy"] = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                                          "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'")
    who = _session_user(deps, request) if not token else None
    page = PAGE.read_text().replace("{{NONCE}}", nonce).replace("{{CSRF}}", escape(who.csrf or "") if who else "")
    return HTMLResponse(page, headers=headers)


# ---- hand back to the bot ------------------------------------------------------------------------
class HandbackBody(BaseModel):
    call_id: str = Field(min_length=1, max_length=64)
    flow: Literal["survey"] = "survey"  # what the bot runs before it ends the call (routing.handback.FLOWS)


@router.post("/desktop/{agent_id}/handback", status_code=202, response_model=None, include_in_schema=False)
def hand_back(request: Request, agent_id: str, body: HandbackBody, deps: DepsDep,
              token: str | None = Query(None)) -> JSONResponse:
    """The agent passes the caller back to the bot: their leg leaves, the bot says so and runs the survey."""
    desk = deps.desktop
    assert desk is not None
    if desk.on_handback is None:
        return Problem(404, "hand-back to the bot is not available here").response()
    if not _authorised(deps, agent_id, token, request):
        return Problem(403, "not authorised for this agent").response()
    if not token and deps.auth is not None:
        who = _session_user(deps, request)
        assert who is not None  # _authorised needs a session without a token
        deps.auth.check_csrf(request, who)  # a cookie-signed change must come from our own page
    error = desk.on_handback(agent_id, body.call_id)
    if error:
        return Problem(409, error, "call_id").response()
    log.info("agent %s handed call %s back to the bot", agent_id, body.call_id)
    return JSONResponse({"call_id": body.call_id, "handed_back": True, "flow": body.flow}, status_code=202)
