"""Metrics (`web.routers.metrics`): the store's summary over the API."""

from __future__ import annotations


def test_metrics_summary(api, store, bearer, add_calls):
    add_calls(store)
    m = api.get("/api/metrics/summary", headers=bearer).json()
    assert m["outcomes"] == {"transferred": 1, "in_progress": 1} and m["time_to_transfer"] == [6.0]
