"""The agent desktop: a WebSocket per agent that carries screen pops, live transcript lines and
presence, and a small page (plain HTML and JavaScript, no build step) that shows them.

    hub = ScreenPopHub()
    app.include_router(desktop_routes(hub, directory, token_for_agent=hmac_tokens(secret)))

    WS  /ws/agent/{agent_id}?token=...   server → desktop: {"type": "hello", "agent", "presence"},
                                         then {"type": "pop", ...}, {"type": "transcript", ...},
                                         {"type": "presence", "state", ...}, {"type": "error", ...}
                                         desktop → server: {"type": "presence", "state": "away"|"available"},
                                         {"type": "disposition", "call_id", "escalation_right",
                                         "caller_frustrated", "reason_tag", "note"} (→ "disposition_saved"),
                                         {"type": "ping"} (→ {"type": "pong"})
    GET /desktop/{agent_id}[?token=...]  the page

Two ways in. A signed-in user (``web.auth`` session cookie) whose name is the agent id, or a
supervisor/admin watching; the socket then also needs an Origin of this host (no cross-site
socket hijacking). Or a per-agent link token (`token_for_agent(agent_id)`: an HMAC of the id with
a server secret, see `hmac_tokens`, or a token map, see `token_map`) for desks without accounts.
A socket for an unknown agent or without either is accepted and closed at once with 1008 (policy
violation), so the browser sees why; the page answers 403 (or sends an anonymous visitor to sign
in). Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect, WebSocketState

from routing.agents import InvalidTransition, Presence
from routing.screenpop import ScreenPopHub

log = logging.getLogger("web.desktop")

__all__ = ["agent_token", "desktop_routes", "hmac_tokens", "token_map", "POLICY_VIOLATION"]

POLICY_VIOLATION = 1008
PAGE = Path(__file__).parent / "desktop.html"
_DESK_STATES = {"away": Presence.AWAY, "available": Presence.AVAILABLE}
_CALL_STATES = (Presence.RINGING, Presence.ON_CALL)  # changed by the call flow only, not from the desktop


def agent_token(secret: bytes | str, agent_id: str) -> str:
    """The agent's desktop token: HMAC-SHA256 of the agent id under the server secret (hex, 32 chars)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, b"agent-desktop:" + agent_id.encode(), hashlib.sha256).hexdigest()[:32]


def hmac_tokens(secret: bytes | str) -> Callable[[str], str]:
    return lambda agent_id: agent_token(secret, agent_id)


def token_map(tokens: Mapping[str, str]) -> Callable[[str], str | None]:
    return lambda agent_id: tokens.get(agent_id)


def _token_ok(token_for_agent: Callable[[str], str | None], agent_id: str, given: str | None) -> bool:
    if not given:
        return False
    expected = token_for_agent(agent_id)
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


Disposition = Callable[[str, dict], "str | None"]  # (agent id, message) → an error, or None when saved


def desktop_routes(hub: ScreenPopHub, directory, *,
                   token_for_agent: Callable[[str], str | None] | Mapping[str, str],
                   auth=None, on_disposition: Disposition | None = None) -> APIRouter:
    if isinstance(token_for_agent, Mapping):
        token_for_agent = token_map(token_for_agent)
    hub.follow(directory)
    router = APIRouter()

    def session_user(conn: HTTPConnection):
        return auth.principal(conn) if auth is not None else None

    def authorised(agent_id: str, token: str | None, conn: HTTPConnection | None = None) -> bool:
        if agent_id not in directory:
            return False
        if token:
            return _token_ok(token_for_agent, agent_id, token)
        who = session_user(conn) if conn is not None else None
        return who is not None and (who.name == agent_id or who.can("desktop.any"))

    @router.websocket("/ws/agent/{agent_id}")
    async def agent_socket(websocket: WebSocket, agent_id: str, token: str | None = Query(None)) -> None:
        await websocket.accept()
        cross_site = not token and not _same_origin_socket(websocket)
        if cross_site or not authorised(agent_id, token, websocket):
            log.info("desktop socket refused for agent %r", agent_id)
            await websocket.close(code=POLICY_VIOLATION, reason="not authorised for this agent")
            return
        agent = directory.get(agent_id)
        conn = hub.connect(agent_id)
        tasks: list[asyncio.Task] = []
        try:
            await websocket.send_json({"type": "hello", "agent": agent.public(),
                                       "presence": directory.status(agent_id).to_dict(directory.clock())})
            tasks = [asyncio.create_task(_pump(websocket, conn)),
                     asyncio.create_task(_listen(websocket, agent_id, directory, on_disposition))]
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
            hub.disconnect(conn)
            if websocket.client_state is WebSocketState.CONNECTED:
                try:
                    await websocket.close()
                except (RuntimeError, OSError):
                    pass

    @router.get("/desktop", response_model=None, include_in_schema=False)
    def my_desktop(request: Request) -> RedirectResponse:
        who = session_user(request)
        if who is None:
            return RedirectResponse("/login?next=%2Fdesktop", status_code=303)
        return RedirectResponse(f"/desktop/{who.name}" if who.name in directory else "/live", status_code=303)

    @router.get("/desktop/{agent_id}", response_class=HTMLResponse, response_model=None, include_in_schema=False)
    def desktop_page(request: Request, agent_id: str, token: str | None = Query(None)) -> HTMLResponse | RedirectResponse:
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
        if not token and auth is not None and session_user(request) is None:
            return RedirectResponse(f"/login?next=%2Fdesktop%2F{agent_id}", status_code=303)
        if not authorised(agent_id, token, request):
            return HTMLResponse("<!doctype html><title>Forbidden</title><p>This link is not valid for this agent.</p>",
                                status_code=403, headers=headers)
        nonce = secrets.token_urlsafe(16)
        headers["Content-Security-Policy"] = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                                              "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'")
        return HTMLResponse(PAGE.read_text().replace("{{NONCE}}", nonce), headers=headers)

    return router


async def _pump(websocket: WebSocket, conn) -> None:
    """Hub → desktop, as soon as anything arrives."""
    while True:
        message = await conn.get()
        if message is None:
            await websocket.close(code=1013, reason="too far behind; reconnect")
            return
        try:
            await websocket.send_json(message)
        except BaseException:
            conn.put_back(message)  # not sent: disconnect() keeps it for the next desktop
            raise


def _same_origin_socket(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if not origin:
        return True  # not a browser
    return urlsplit(origin).netloc == websocket.headers.get("host", "")


async def _listen(websocket: WebSocket, agent_id: str, directory, on_disposition: Disposition | None = None) -> None:
    """Desktop → hub: presence changes, dispositions and pings."""
    while True:
        raw = await websocket.receive_text()
        try:
            msg = json.loads(raw)
        except ValueError:
            await websocket.send_json({"type": "error", "error": "not JSON"})
            continue
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "ping":
            await websocket.send_json({"type": "pong"})
        elif kind == "disposition":
            error = (await asyncio.get_running_loop().run_in_executor(None, on_disposition, agent_id, msg)
                     if on_disposition else "dispositions are not kept here")
            if error:
                await websocket.send_json({"type": "error", "error": error, "about": "disposition"})
            else:
                await websocket.send_json({"type": "disposition_saved", "call_id": msg.get("call_id")})
        elif kind == "presence":
            state = _DESK_STATES.get(str(msg.get("state")))
            if state is None:
                await websocket.send_json({"type": "error", "error": "state must be 'away' or 'available'"})
                continue
            if directory.presence(agent_id) is state:
                await websocket.send_json({"type": "presence", **directory.status(agent_id).to_dict(directory.clock())})
                continue
            try:
                if directory.presence(agent_id) in _CALL_STATES:  # the call flow owns ringing/on_call
                    raise InvalidTransition(agent_id, directory.presence(agent_id), state)
                directory.set_presence(agent_id, state)  # the directory's listeners push the new presence
            except InvalidTransition as exc:
                await websocket.send_json({"type": "error", "error": str(exc),
                                           "presence": directory.status(agent_id).to_dict(directory.clock())})
        else:
            await websocket.send_json({"type": "error", "error": f"unknown message type {kind!r}"})
