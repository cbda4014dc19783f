"""Metrics: ``GET /metrics``, this worker's counters in Prometheus text format (`web.prometheus`,
empty when the app has none), and ``GET /api/metrics/summary``, the store's figures over every
worker (containment, escalations by reason, time to transfer, transfers, survey scores)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from web.dependencies import ApiUser, DepsDep, StoreDep
from web.prometheus import CONTENT_TYPE

router = APIRouter()
api_router = APIRouter(prefix="/api/metrics")  # needs the store and a signed-in caller


@router.get("/metrics", include_in_schema=False)
def metrics(deps: DepsDep) -> Response:
    return Response(deps.metrics.render() if deps.metrics else b"", media_type=CONTENT_TYPE)


@api_router.get("/summary", dependencies=[Depends(ApiUser("metrics.read"))])
def metrics_summary(store: StoreDep) -> dict[str, Any]:
    return store.metrics()
