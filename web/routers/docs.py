"""``/docs`` (Swagger UI) and ``/redoc``, from this machine's assets (`web.api_docs`), never a CDN."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from web import api_docs
from web.api_docs import ASSETS_URL, CSP, MISSING, offline_redoc


def add_api_docs(app: FastAPI, assets: Path | None = None) -> None:
    """Serve /docs and /redoc for ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    assets = assets if assets is not None else api_docs.assets_dir()
    if assets is not None:
        app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="api-docs-assets")
    swagger, redoc_js = f"{ASSETS_URL}/swagger-ui-dist", "/api-docs/redoc.standalone.js"

    @lru_cache(maxsize=1)
    def redoc_bundle() -> bytes:
        return offline_redoc((assets / "redoc" / "bundles" / "redoc.standalone.js").read_text(encoding="utf-8")).encode()

    def answer(render):
        """The asset-backed response, or what to install when the assets are missing."""
        if assets is None:
            return PlainTextResponse(MISSING, status_code=503)
        return render()

    def page(response):
        response.headers["Content-Security-Policy"] = CSP
        return response

    @app.get(redoc_js, include_in_schema=False)
    def redoc_script():
        return answer(lambda: Response(redoc_bundle(), media_type="text/javascript",
                                       headers={"Cache-Control": "public, max-age=86400"}))

    @app.get("/docs", include_in_schema=False)
    def swagger_ui():
        return answer(lambda: page(get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI", oauth2_redirect_url=None,
            swagger_js_url=f"{swagger}/swagger-ui-bundle.js", swagger_css_url=f"{swagger}/swagger-ui.css",
            swagger_favicon_url=f"{swagger}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None})))  # no badge from the online validator

    @app.get("/redoc", include_in_schema=False)
    def redoc_ui():
        return answer(lambda: page(get_redoc_html(
            openapi_url=app.openapi_url, title=f"{app.title} - ReDoc", redoc_js_url=redoc_js,
            redoc_favicon_url=f"{swagger}/favicon-32x32.png", with_google_fonts=False)))
