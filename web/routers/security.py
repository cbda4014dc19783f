"""``GET /api/security``: what the password-guessing guard holds (`store.auth_guard`), for the panel.

Agents whose phone name went past its threshold of failed digest answers (`auth_flagged`), panel
users past theirs, and the source addresses refused now, with until when. Supervisors read it;
``POST /api/security/clear`` (admins) forgets a user's count and flag once someone has looked.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select

from store import schema as t
from web.dependencies import ApiUser, DepsDep, StoreDep

router = APIRouter(prefix="/api/security", tags=["security"])


class ClearFlag(BaseModel):
    scope: str = Field(pattern="^(sip|web)$")
    user: str = Field(min_length=1, max_length=128)


@router.get("", dependencies=[Depends(ApiUser("live.read"))])
def security(store: StoreDep, deps: DepsDep) -> dict[str, Any]:
    guard, now = store.auth_failures, time.time()
    sip, web = guard.flagged("sip"), guard.flagged("web")
    c = t.auth_failures.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(c.scope, c.subject, c.blocked_until, c.strikes)
                            .where(c.kind == "source", c.blocked_until > now).order_by(c.blocked_until.desc()))
        blocked = [{"scope": r.scope, "source": r.subject, "until": r.blocked_until, "strikes": r.strikes} for r in rows]
    ids = [a.id for a in deps.desktop.directory] if deps.desktop is not None else sorted(sip)
    return {"agents": [{"id": i, "auth_flagged": i in sip, "flagged_at": sip.get(i)} for i in ids],
            "sip_flagged": sip, "web_flagged": web, "blocked_sources": blocked}


@router.post("/clear", dependencies=[Depends(ApiUser("users.manage"))])
def clear(body: ClearFlag, store: StoreDep) -> dict[str, Any]:
    store.auth_failures.clear(body.scope, body.user)
    return {"cleared": body.user, "scope": body.scope}
