"""`/docs` (Swagger UI) and `/redoc` from files installed on this machine, never a CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc its fonts from Google), so
on a closed network, as many contact centres run, the API page is blank. The same assets come
here from a registry package, ``drf-spectacular-sidecar`` (Swagger UI, Apache-2.0; ReDoc, MIT;
their licence files ship beside them): only its static files are used, found without
importing it, since its Python side is a Django app. The Makefile and the Dockerfile install it
with ``--no-deps`` (it declares Django). The pages also send a Content-Security-Policy that
allows nothing off this host, so a future asset that wanted a CDN fails loudly in the browser
rather than leaking requests. ReDoc itself fetches one thing off-host whatever its options (the
"API docs by Redocly" logo from its CDN): its bundle is served with that one URL replaced by an
empty inline image (`offline_redoc`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ASSETS_PACKAGE = "drf_spectacular_sidecar"
ASSETS_URL = "/api-docs/assets"
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
       "frame-ancestors 'none'")
MISSING = ("The API documentation's assets are not installed: `pip install --no-deps drf-spectacular-sidecar` "
           "(make does it). The OpenAPI spec itself is at /openapi.json.")


REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = "data:image/svg+xml,%3Csvg%20xmlns=%27http://www.w3.org/2000/svg%27/%3E"


def offline_redoc(js: str) -> str:
    """ReDoc's bundle without its one off-host fetch (the sidebar's logo)."""
    return js.replace(REDOC_LOGO, EMPTY_IMAGE)


def assets_dir() -> Path | None:
    """The sidecar package's static folder (swagger-ui-dist/, redoc/), or None if not installed."""
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / ASSETS_PACKAGE
    return folder if (folder / "swagger-ui-dist" / "swagger-ui-bundle.js").is_file() else None


def add_api_docs(app, assets: Path | None = None) -> None:
    """Serve /docs and /redoc for ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    from functools import lru_cache

    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import PlainTextResponse, Response
    from fastapi.staticfiles import StaticFiles

    assets = assets if assets is not None else assets_dir()
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
