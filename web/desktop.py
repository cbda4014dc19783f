"""The agent desktop's link tokens and its socket's conversation (`web.routers.desktop` has the
routes: who may connect, and the page).

    server → desktop: {"type": "hello", "agent", "presence"}, then {"type": "pop", ...},
                      {"type": "transcript", ...}, {"type": "presence", "state", ...}, {"type": "error", ...}
    desktop → server: {"type": "presence", "state": "away"|"available"},
                      {"type": "disposition", "call_id", "escalation_right", "caller_frustrated",
                      "reason_tag", "note"} (→ "disposition_saved"), {"type": "ping"} (→ {"type": "pong"})

A per-agent link token lets a desk without an account in. Tokens are signed and short-lived
(`DesktopTokens`: `<issued>.<expires>.<HMAC-SHA256 of agent, issued, expires>` under the server
secret, 12 hours by default: one shift) and revocable (every link of an agent issued before
`revoked_before(agent)`, the store's `desktop_links`, is refused); a token map (`token_map`,
tests) still works. Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from pathlib import Path
import time
from typing import Callable, Mapping
from urllib.parse import urlsplit

from fastapi import WebSocket

from routing.agents import InvalidTransition, Presence

log = logging.getLogger("web.desktop")

__all__ = ["DesktopTokens", "LINK_TTL_S", "agent_token", "hmac_tokens", "token_map", "token_ok", "pump", "listen", "POLICY_VIOLATION"]

POLICY_VIOLATION = 1008
_DESK_STATES = {"away": Presence.AWAY, "available": Presence.AVAILABLE}
_CALL_STATES = (Presence.RINGING, Presence.ON_CALL)  # changed by the call flow only, not from the desktop
Disposition = Callable[[str, dict], "str | None"]  # (agent id, message) → an error, or None when saved


LINK_TTL_S = 12 * 3600.0  # one shift


class DesktopTokens:
    """Signed desktop link tokens that expire and can be revoked; `issue(agent)` → (token, expires at)."""

    def __init__(self, secret: bytes | str, *, revoked_before: Callable[[str], float] = lambda agent_id: 0.0,
                 clock: Callable[[], float] = time.time):
        self._key = secret.encode() if isinstance(secret, str) else secret
        self.revoked_before, self.clock = revoked_before, clock

    def _mac(self, agent_id: str, issued: int, expires: int) -> str:
        msg = f"agent-desktop:{agent_id}:{issued:x}:{expires:x}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:32]

    def issue(self, agent_id: str, ttl_s: float = LINK_TTL_S) -> tuple[str, float]:
        issued = int(self.clock())
        expires = issued + max(1, int(ttl_s))
        return f"{issued:x}.{expires:x}.{self._mac(agent_id, issued, expires)}", float(expires)

    def verify(self, agent_id: str, token: str) -> bool:
        """Signed for this agent, not expired, and issued after the agent's last revocation."""
        parts = token.split(".")
        if len(parts) != 3 or len(token) > 80:
            return False
        try:
            issued, expires = int(parts[0], 16), int(parts[1], 16)
        except ValueError:
            return False
        if not hmac.compare_digest(parts[2].encode(), self._mac(agent_id, issued, expires).encode()):
            return False
        now = self.clock()
        return issued <= now + 60 and now < expires and issued >= int(self.revoked_before(agent_id))

    def __call__(self, agent_id: str) -> str:  # `DesktopDeps.token_for_agent`: a fresh link token
        return self.issue(agent_id)[0]


def agent_token(secret: bytes | str, agent_id: str, ttl_s: float = LINK_TTL_S) -> str:
    """A fresh desktop token for the agent, valid for `ttl_s` (signed with the server secret)."""
    return DesktopTokens(secret).issue(agent_id, ttl_s)[0]


def hmac_tokens(secret: bytes | str, revoked_before: Callable[[str], float] | None = None) -> DesktopTokens:
    return DesktopTokens(secret, revoked_before=revoked_before) if revoked_before else DesktopTokens(secret)


def token_map(tokens: Mapping[str, str]) -> Callable[[str], str | None]:
    return lambda agent_id: tokens.get(agent_id)


def token_ok(token_for_agent: Callable[[str], str | None], agent_id: str, given: str | None) -> bool:
    if not given:
        return False
    if isinstance(token_for_agent, DesktopTokens):
        return token_for_agent.verify(agent_id, given)
    expected = token_for_agent(agent_id)
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def pump(websocket: WebSocket, conn) -> None:
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


def same_origin_socket(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if not origin:
        return True  # not a browser
    return urlsplit(origin).netloc == websocket.headers.get("host", "")


async def listen(websocket: WebSocket, agent_id: str, directory, on_disposition: Disposition | None = None) -> None:
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


def kept_secret(given: str | None, path: str | Path) -> str:
    """The secret that signs desktop tokens: ``given`` (IVR_SECRET), or one kept at ``path``,
    created once with this user's permissions only. It must survive restarts and never be logged."""
    if given:
        return given
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(os.urandom(24).hex())
    return path.read_text().strip()
