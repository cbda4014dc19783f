"""``GET /healthz`` (`web.routers.health`): "ok" and what the service reports, taken in the loop."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from web.app import create_app
from web.dependencies import WebDeps


def test_health_is_ok_with_the_services_own_figures():
    seen = []

    def report():
        seen.append(asyncio.get_running_loop())  # raises outside the event loop's thread
        return {"calls_active": 2, "worker": "w-1"}

    client = TestClient(create_app(WebDeps(health=report)))
    assert client.get("/healthz").json() == {"status": "ok", "calls_active": 2, "worker": "w-1"}
    assert len(seen) == 1
    assert TestClient(create_app(WebDeps())).get("/healthz").json() == {"status": "ok"}


def test_an_app_without_a_store_has_no_api_and_no_panel():
    client = TestClient(create_app(WebDeps()))
    assert client.get("/api/calls").status_code == 404 and client.get("/live").status_code == 404
    assert client.get("/static/panel.css").status_code == 404
    assert "/api/policy" not in client.get("/openapi.json").json()["paths"]


def test_readyz_is_503_while_draining_or_without_the_database_and_healthz_stays_200():
    report = {"draining": False, "store": {"database_reachable": True}}
    client = TestClient(create_app(WebDeps(health=lambda: dict(report))))
    assert client.get("/readyz").json() == {"status": "ready", "reasons": []}
    report["draining"] = True
    got = client.get("/readyz")
    assert got.status_code == 503 and got.json()["reasons"] == ["draining"]
    report.update(draining=False, store={"database_reachable": False})
    got = client.get("/readyz")
    assert got.status_code == 503 and got.json()["reasons"] == ["database_unreachable"]
    assert client.get("/healthz").status_code == 200  # liveness: a draining worker is not restarted
