"""``GET /healthz`` and ``GET /readyz``.

/healthz is liveness: "ok" and whatever the service reports about itself (`WebDeps.health`:
calls, the store's backlog, SIP counters, the process's descriptors and tasks); it stays 200
while the process can answer at all, so an orchestrator does not restart a draining worker.
/readyz is readiness: 503 while the worker drains (SIGTERM) or its database is unreachable, so a
load balancer sends it no new work. Async, so the report is taken in the event loop's thread
(it counts the loop's tasks)."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from web.dependencies import DepsDep

router = APIRouter()


def process_stats() -> dict:
    """Open file descriptors, resident memory and asyncio tasks of this process (leak checks)."""
    try:
        fds = len(os.listdir("/proc/self/fd"))
        with open("/proc/self/statm") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux
        fds, rss = -1, -1
    try:
        tasks = len(asyncio.all_tasks())
    except RuntimeError:
        tasks = -1
    return {"open_fds": fds, "rss_bytes": rss, "asyncio_tasks": tasks}


@router.get("/healthz")
async def healthz(deps: DepsDep) -> dict[str, Any]:
    return {"status": "ok", **(deps.health() if deps.health else {})}


def not_ready_because(report: Mapping[str, Any]) -> list[str]:
    """Why this worker should get no new calls (empty: it is ready)."""
    reasons = []
    if report.get("draining"):
        reasons.append("draining")
    store = report.get("store")
    if isinstance(store, Mapping) and store.get("database_reachable") is False:
        reasons.append("database_unreachable")
    return reasons


@router.get("/readyz", responses={503: {"description": "draining, or the database is unreachable"}})
async def readyz(deps: DepsDep) -> JSONResponse:
    reasons = not_ready_because(deps.health() if deps.health else {})
    if reasons:
        return JSONResponse({"status": "not_ready", "reasons": reasons}, status_code=503)
    return JSONResponse({"status": "ready", "reasons": []})
