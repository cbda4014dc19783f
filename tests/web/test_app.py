"""The app (`web.app.create_app`, as `ivr.serve.build_app` builds it) checked against its own
OpenAPI spec by schemathesis: generated requests for every documented operation (in-process
ASGI, a bounded number each), authorised the way the current code authorises scripts (the
IVR_ADMIN_TOKEN bearer); no request may get a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from ivr.serve import build_app
from store import Store

TOKEN = "schema-test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def build(tmp_path):
    """The app as `ivr serve` builds it (without SIP or a contact centre): health, API, panel."""
    store = Store(f"sqlite:///{tmp_path}/schema.db")
    cid = store.call_started("schema@pbx", "+15550000009")
    store.record_event(cid, {"event": "turn", "index": 0, "text": "hello", "intent": "order_status"})
    store.call_ended(cid, "bot_resolved")
    store.flush_sync()
    app = build_app({"cc": None, "sip": "127.0.0.1:5070", "store": store, "worker": "w-test"}, admin_token=TOKEN)
    return app, store


@pytest.fixture(scope="module")
def app_and_store(tmp_path_factory):
    app, store = build(tmp_path_factory.mktemp("schema"))
    yield app, store
    store.close()


@pytest.fixture(scope="module")
def api_schema(app_and_store):
    return schemathesis.openapi.from_asgi("/openapi.json", app_and_store[0])


def test_no_operation_answers_5xx(api_schema):
    """Each operation gets up to 25 generated requests (schemathesis' pytest plugin does not run
    under pytest 9 yet, so hypothesis drives each operation's strategy here)."""
    tried = []
    for result in api_schema.get_all_operations():
        op = result.ok()
        tried.append(op.label)

        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def check(case):
            response = case.call(headers=AUTH)
            case.validate_response(response, checks=[not_a_server_error])

        check()
    assert len(tried) >= 6, tried


def test_the_spec_covers_the_api(api_schema):
    paths = {op.path for op in (r.ok() for r in api_schema.get_all_operations())}
    assert {"/api/calls", "/api/calls/{call_id}", "/api/policy", "/healthz"} <= paths


def test_web_imports_routing_and_store_never_the_reverse():
    """The dependency direction: ivr -> web -> routing -> store; nothing below web imports it."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for package in ("routing", "store", "nlu", "calls", "telephony", "voice"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                offenders += [f"{path.relative_to(root)}: {n}" for n in names if n == "web" or n.startswith(("web.", "ivr"))]
    assert offenders == []
