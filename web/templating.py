"""The panel's pages: Jinja2 templates (autoescaped) with the chart filters, rendered with the
headers every page carries (a Content-Security-Policy that allows no inline script or style,
no caching, no sniffing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from web.auth import Principal
from web.charts import bars, spark, turn_bar, turn_strip

WEB = Path(__file__).parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters.update(spark=spark, bars=bars, turn_bar=turn_bar, turn_strip=turn_strip)


def render(request: Request, template: str, who: Principal | None, status: int = 200, **ctx: Any) -> HTMLResponse:
    resp = templates.TemplateResponse(request, template, {"who": who, **ctx}, status_code=status)
    resp.headers.update({"Content-Security-Policy": CSP, "Cache-Control": "no-store",
                         "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"})
    return resp
