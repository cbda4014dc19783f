"""/docs and /redoc (`web.routers.docs`, `web.api_docs`) point only at this host's assets (the
browser tests render them offline)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from web.api_docs import CSP, REDOC_LOGO, assets_dir
from web.routers.docs import add_api_docs

needs_assets = pytest.mark.skipif(assets_dir() is None, reason="drf-spectacular-sidecar not installed (make installs it)")


def client() -> TestClient:
    app = FastAPI(title="ivr", docs_url=None, redoc_url=None)
    add_api_docs(app)
    return TestClient(app)


@needs_assets
@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_pages_load_everything_from_this_host(path):
    c = client()
    page = c.get(path)
    assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert urls and all(u.startswith("/") for u in urls), urls
    for u in urls:
        if u != "/openapi.json":
            assert c.get(u).status_code == 200, u
    assert "fonts.googleapis" not in page.text and "cdn." not in page.text


@needs_assets
def test_redoc_is_served_without_its_logo_fetch():
    c = client()
    js = c.get("/api-docs/redoc.standalone.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert REDOC_LOGO not in js.text and "Redoc" in js.text
    original = (assets_dir() / "redoc" / "bundles" / "redoc.standalone.js").read_text(encoding="utf-8")
    assert REDOC_LOGO in original  # the package's own file still has it: the rewrite is ours


def test_without_the_assets_package_the_pages_say_what_to_install(monkeypatch):
    import web.api_docs as docs

    monkeypatch.setattr(docs, "assets_dir", lambda: None)
    c = client()
    for path in ("/docs", "/redoc"):
        r = c.get(path)
        assert r.status_code == 503 and "drf-spectacular-sidecar" in r.text
