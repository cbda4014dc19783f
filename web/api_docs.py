"""The assets of `/docs` (Swagger UI) and `/redoc` (`web.routers.docs`): files installed on this
machine, never a CDN.

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
