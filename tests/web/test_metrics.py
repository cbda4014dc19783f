"""Metrics (`web.routers.metrics`): the store's summary over the API."""

from __future__ import annotations


def test_metrics_summary(api, store, bearer, add_calls):
    add_calls(store)
    m = api.get("/api/metrics/summary", headers=bearer).json()
    assert m["outcomes"] == {"transferred": 1, "in_progress": 1} and m["time_to_transfer"] == [6.0]


def test_prometheus_text_from_this_workers_counters():
    from fastapi.testclient import TestClient

    from web.app import create_app
    from web.dependencies import WebDeps
    from web.prometheus import CONTENT_TYPE, CallMetrics

    m = CallMetrics()
    m.call_started("c1")
    r = TestClient(create_app(WebDeps(metrics=m))).get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"] == CONTENT_TYPE
    assert "ivr_calls_total 1.0" in r.text and "ivr_calls_active 1.0" in r.text
    empty = TestClient(create_app(WebDeps())).get("/metrics")
    assert empty.status_code == 200 and empty.content == b""
