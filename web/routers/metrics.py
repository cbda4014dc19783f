"""Metrics: ``GET /metrics``, this worker's counters in Prometheus text format (`web.prometheus`,
empty when the app has none) followed by the store's after-hand-off figures over every worker
(`store_figures`), and ``GET /api/metrics/summary``, the store's figures over every worker
(containment, escalations by reason, time to transfer, transfers, survey scores, resolution after
hand-off, handle time after transfer, callback kept rate, repeat callers within 7 days)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from fastapi import APIRouter, Depends, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily

from web.dependencies import ApiUser, DepsDep, StoreDep
from web.prometheus import CONTENT_TYPE

router = APIRouter()
api_router = APIRouter(prefix="/api/metrics")  # needs the store and a signed-in caller

STORE_WINDOW_DAYS = 30  # the store's figures on /metrics: calls started in the last 30 days


def _nan(x: float | None) -> float:
    return float("nan") if x is None else float(x)


class _Figures:
    """A one-shot collector: the store's summary as gauges (the same on every worker: one store)."""

    def __init__(self, m: Mapping[str, Any]):
        self.m = m

    def collect(self):
        m, note = self.m, f" (every worker, calls of the last {STORE_WINDOW_DAYS} days)"
        r, h, c, rep = m["resolution_after_handoff"], m["handle_time"], m["callbacks_kept"], m["repeat_callers"]
        yield GaugeMetricFamily("ivr_resolution_after_handoff_ratio",
                                "Handed-off calls the agent marked resolved, of those marked" + note, value=_nan(r["rate"]))
        s = SummaryMetricFamily("ivr_handle_time_after_transfer_seconds",
                                "Agent's answer to the agent leaving, per bridged call" + note,
                                count_value=h["count"], sum_value=sum(h["values"]))
        yield s
        yield GaugeMetricFamily("ivr_handle_time_after_transfer_median_seconds",
                                "Median handle time after transfer" + note, value=_nan(h["median_s"]))
        yield GaugeMetricFamily("ivr_callback_kept_ratio",
                                "Promised callbacks that reached the caller, of those done or failed" + note,
                                value=_nan(c["rate"]))
        yield GaugeMetricFamily("ivr_repeat_callers_7d_ratio",
                                "Calls whose caller had called in the 7 days before" + note, value=_nan(rep["rate"]))


def store_figures(m: Mapping[str, Any]) -> bytes:
    """The store's after-hand-off figures (``Store.metrics()``'s dict) in Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(m))
    return generate_latest(registry)


@router.get("/metrics", include_in_schema=False)
def metrics(deps: DepsDep) -> Response:
    body = deps.metrics.render() if deps.metrics else b""
    if deps.store is not None:
        body += store_figures(deps.store.metrics(datetime.now(timezone.utc) - timedelta(days=STORE_WINDOW_DAYS)))
    return Response(body, media_type=CONTENT_TYPE)


@api_router.get("/summary", dependencies=[Depends(ApiUser("metrics.read"))])
def metrics_summary(store: StoreDep) -> dict[str, Any]:
    return store.metrics()
