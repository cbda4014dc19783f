"""The web app: `create_app(deps)` puts FastAPI's routers together over what `deps` holds.

    app = create_app(WebDeps(store=store, auth=Auth(store.accounts), desktop=DesktopDeps(...),
                             metrics=cc.metrics, health=lambda: {...}))

Always: /healthz, /metrics, /docs and /redoc (local assets), one error shape
(`web.problems`). With a store and an `Auth`: the JSON API (calls, live, policy, metrics) and
the panel's pages and /static. With `DesktopDeps`: the agent desktop's socket and page.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from web import errors
from web.dependencies import WebDeps
from web.routers import (callbacks, calls, desktop, docs, health, knowledge, live, metrics, pages, pbx_webhook, policy,
                         policy_pages, security, signin)
from web.schemas import ProblemBody
from web.templating import STATIC

# The JSON API's refusals, documented once for every /api route (the handlers give this shape).
_API_RESPONSES = {422: {"model": ProblemBody, "description": "invalid request: ``field`` names what is wrong"}}


def create_app(deps: WebDeps) -> FastAPI:
    app = FastAPI(title=deps.title, version=deps.version, docs_url=None, redoc_url=None)  # ours: local assets
    app.state.web = deps
    errors.install(app)
    docs.add_api_docs(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    if deps.store is not None and deps.auth is not None:
        app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
        for api in (signin.router, calls.router, live.router, policy.router, metrics.api_router, security.router,
                    callbacks.router, knowledge.router):
            app.include_router(api, responses=_API_RESPONSES)
        for page in (pages.router, policy_pages.router, security.pages, knowledge.pages):
            app.include_router(page)
    if deps.desktop is not None:
        deps.desktop.hub.follow(deps.desktop.directory)
        app.include_router(desktop.router)
        app.include_router(knowledge.desk)  # the desktop's knowledge search (agent assist)
        app.include_router(pbx_webhook.router)
    return app
