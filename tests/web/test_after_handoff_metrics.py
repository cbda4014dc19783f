"""The after-hand-off figures on the dashboard and on /metrics (`web.routers.metrics.store_figures`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from web.app import create_app
from web.dependencies import WebDeps
from web.prometheus import CallMetrics
from web.routers.metrics import store_figures


def _samples(text: str) -> dict:
    return {s.name: s.value for fam in text_string_to_metric_families(text) for s in fam.samples}


async def _two_handed_off_calls(store):
    now = datetime.now(timezone.utc)
    ids = []
    for i, (handle, resolved) in enumerate(((40.0, True), (80.0, False))):
        cid = store.call_started(f"s{i}", "+15550199", now - timedelta(hours=2 - i))
        store.record_event(cid, {"event": "transfer", "state": "done", "agent": "alice", "handle_s": handle})
        ids.append(cid)
    await store.flush()
    for cid, (_, resolved) in zip(ids, ((40.0, True), (80.0, False))):
        store.accounts.add_disposition(cid, "alice", escalation_right=True, reason_tag="other", resolved=resolved)
    return ids


async def test_metrics_endpoint_adds_the_stores_figures_to_the_workers_counters(store):
    await _two_handed_off_calls(store)
    workers = CallMetrics()
    workers.call_started("x")
    text = TestClient(create_app(WebDeps(store=store, metrics=workers))).get("/metrics").text
    s = _samples(text)
    assert s["ivr_calls_total"] == 1.0  # this worker's counters are still there
    assert s["ivr_resolution_after_handoff_ratio"] == 0.5
    assert s["ivr_handle_time_after_transfer_seconds_count"] == 2 and s["ivr_handle_time_after_transfer_seconds_sum"] == 120.0
    assert s["ivr_handle_time_after_transfer_median_seconds"] == 60.0
    assert s["ivr_repeat_callers_7d_ratio"] == 0.5  # the second call is the same number's repeat
    assert s["ivr_callback_kept_ratio"] != s["ivr_callback_kept_ratio"]  # NaN: no callback is over yet


def test_store_figures_render_none_as_nan_not_a_crash():
    empty = {"resolution_after_handoff": {"rate": None}, "handle_time": {"count": 0, "values": [], "median_s": None},
             "callbacks_kept": {"rate": None}, "repeat_callers": {"rate": None}}
    s = _samples(store_figures(empty).decode())
    assert s["ivr_handle_time_after_transfer_seconds_count"] == 0
    assert all(v != v for k, v in s.items() if k.endswith("ratio"))


async def test_dashboard_shows_the_after_handoff_figures(store, users, signed_in):
    await _two_handed_off_calls(store)
    page = signed_in("sam").get("/dashboard?days=7").text
    for section in ("resolution", "handle-time", "callbacks-kept", "repeat-callers"):
        assert f'id="{section}"' in page
    assert "50.0 %" in page  # resolution after hand-off, and repeat callers
    assert "median 60 s, p95 80 s over 2 bridged calls" in page
