"""``GET /healthz``: "ok" and whatever the service reports about itself (`WebDeps.health`: calls,
the store's backlog, SIP counters, the process's descriptors and tasks). Async, so the report is
taken in the event loop's thread (it counts the loop's tasks)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from web.dependencies import DepsDep

router = APIRouter()


@router.get("/healthz")
async def healthz(deps: DepsDep) -> dict[str, Any]:
    return {"status": "ok", **(deps.health() if deps.health else {})}
