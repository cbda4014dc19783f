"""How the app answers what went wrong: HTML error pages for people, JSON for the API and
scripts, `web.problems.Problem` for every refused request (a bad value, a stale edit), and a
303 to the sign-in page for an anonymous visitor of a page."""

from __future__ import annotations

from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from web.auth import PageRedirect
from web.problems import ProblemError, validation_problem
from web.templating import render


class PolicyDocumentRoute(APIRoute):
    """A route whose body is a policy document: its validation errors in the policy's words."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return validation_problem(exc.errors(), exc.body, policy=True).response()

        return route


def install(app: FastAPI) -> None:
    @app.exception_handler(PageRedirect)
    async def _to_login(request: Request, exc: PageRedirect) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return exc.problem.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return validation_problem(exc.errors(), exc.body).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """HTML for people, JSON for the API (FastAPI's own shape)."""
        if request.url.path.startswith("/api") or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))
        auth = request.app.state.web.auth
        return render(request, "error.html", auth.principal(request) if auth else None, exc.status_code,
                      code=exc.status_code, message=exc.detail)
