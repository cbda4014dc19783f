"""The company PBX's side of a hand-off (routing.pbx_handoff): its webhook says which of its
agents took our call, and that agent's desktop gets the screen pop; the `Call-Info` URL the
INVITE carried shows the same pop to anything holding the link.

    POST /api/pbx/answered   Authorization: Bearer $IVR_PBX_TOKEN   {"agent_id": "...", "call_id": "..."}
                             (JSON or a form: an Asterisk dialplan's CURL() posts a form; instead of
                             call_id, `uui` may pass on the User-to-User value the PBX received)
    GET  /api/pbx/pop/{call_id}?sig=...                              the pop, signed per call

The PBX gets a token of its own, not the admin's: with IVR_PBX_TOKEN unset the webhook answers
503 rather than taking unauthenticated pops.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, ValidationError, model_validator

from routing.pbx_handoff import decode_uui, desk_for, uui_fields
from routing.screenpop import redact_deep
from web.dependencies import DepsDep

router = APIRouter()
TOKEN_ENV = "IVR_PBX_TOKEN"


class AgentAnswered(BaseModel):
    """The agent, and our call: its id, or the User-to-User value the PBX received (its `cid=`)."""

    agent_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:+-]+$")
    call_id: str | None = Field(None, min_length=1, max_length=128)
    uui: str | None = Field(None, min_length=1, max_length=400)

    @model_validator(mode="after")
    def _one_of(self) -> "AgentAnswered":
        if self.call_id is None:
            if self.uui is None:
                raise ValueError("call_id or uui is required")
            try:
                data, _ = decode_uui(self.uui)
            except ValueError as exc:
                raise ValueError(f"uui: {exc}") from None
            self.call_id = uui_fields(data).get("cid")
            if not self.call_id:
                raise ValueError("uui carries no cid=")
        return self


def _check_token(request: Request) -> None:
    expected = os.environ.get(TOKEN_ENV) or ""
    if not expected:
        raise HTTPException(503, f"the PBX webhook is off ({TOKEN_ENV} is not set)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise HTTPException(401, "a valid PBX bearer token is required", headers={"WWW-Authenticate": "Bearer"})


async def _body(request: Request) -> AgentAnswered:
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            raw: Any = await request.json()
        else:
            raw = dict(await request.form())
        return AgentAnswered.model_validate(raw)
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                                           for e in exc.errors()))
    except ValueError as exc:
        raise HTTPException(400, f"unreadable body: {exc}")


@router.post("/api/pbx/answered")
async def agent_answered(request: Request, deps: DepsDep) -> dict[str, Any]:
    """The PBX's agent answered our call: pop that agent's screen."""
    _check_token(request)
    body = await _body(request)
    hub = deps.desktop.hub if deps.desktop is not None else None
    if hub is None:
        raise HTTPException(503, "no agent desktops on this service")
    pop = desk_for(hub).get(body.call_id or "")
    if pop is None:
        raise HTTPException(404, f"no hand-off for call {body.call_id}")
    message = hub.pop(body.agent_id, {**pop, "via": "pbx"})
    return {"popped": True, "agent_id": body.agent_id, "call_id": body.call_id,
            "connected": hub.connected(body.agent_id), "reason": message.get("reason")}


@router.get("/api/pbx/pop/{call_id}")
def pop_for_link(call_id: str, deps: DepsDep, sig: str = "") -> dict[str, Any]:
    """The Call-Info URL: the pop of one hand-off, for whoever holds its signed link."""
    hub = deps.desktop.hub if deps.desktop is not None else None
    if hub is None:
        raise HTTPException(404, "no hand-offs here")
    desk = desk_for(hub)
    if not desk.signed(call_id, sig):
        raise HTTPException(403, "bad or missing signature")
    pop = desk.get(call_id)
    if pop is None:
        raise HTTPException(404, f"no hand-off for call {call_id}")
    return redact_deep(pop)
