"""What the web app needs (`WebDeps`, given to `web.app.create_app`) and the FastAPI ``Depends``
providers the routers take it through.

The app keeps its `WebDeps` in ``app.state.web``; a router never holds a store or an `Auth` of
its own, so one set of routers serves every app (the service's, each test's). No ``from
__future__ import annotations`` here: FastAPI reads `ApiUser.__call__`'s annotations at runtime.

    who: Principal = Depends(ApiUser("policy.read"))    # JSON: 401 anonymous, 403 without it
    who: Principal = Depends(PageUser("live.read"))     # pages: anonymous -> /login?next=...
    store: StoreDep                                     # the store
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Callable, Mapping

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from routing.agents import AgentDirectory
from routing.screenpop import ScreenPopHub
from store import Store
from web.auth import Auth, Principal
from web.desktop import Disposition

if TYPE_CHECKING:
    from web.prometheus import CallMetrics


@dataclass(frozen=True)
class DesktopDeps:
    """The agent desktop's: the hub its sockets drain, the agents, and how a link token is checked."""

    hub: ScreenPopHub
    directory: AgentDirectory
    token_for_agent: Callable[[str], str | None]  # the agent's link token (None: no link for them)
    on_disposition: Disposition | None = None  # dispositions sent from the desktop
    on_handback: Callable[[str, str], str | None] | None = None  # (agent, call) → an error, or None: routing.handback


@dataclass(frozen=True)
class WebDeps:
    """Everything the app serves from. Without ``store`` and ``auth`` there is no API and no panel;
    without ``desktop`` no agent desktop; ``health`` adds this worker's figures to /healthz."""

    store: Store | None = None
    auth: Auth | None = None
    desktop: DesktopDeps | None = None
    metrics: "CallMetrics | None" = None  # this worker's counters for /metrics
    health: Callable[[], Mapping[str, Any]] | None = None  # called in the event loop, per request
    title: str = "ivr"
    version: str = "0.1.0"


def get_deps(conn: HTTPConnection) -> WebDeps:
    return conn.app.state.web


def get_store(deps: Annotated[WebDeps, Depends(get_deps)]) -> Store:
    assert deps.store is not None  # routers that need it are only mounted with it
    return deps.store


def get_auth(deps: Annotated[WebDeps, Depends(get_deps)]) -> Auth:
    assert deps.auth is not None
    return deps.auth


DepsDep = Annotated[WebDeps, Depends(get_deps)]
StoreDep = Annotated[Store, Depends(get_store)]
AuthDep = Annotated[Auth, Depends(get_auth)]


class ApiUser:
    """A JSON route's caller: 401 when anonymous, 403 without ``permission``, CSRF checked."""

    def __init__(self, permission: str | None = None):
        self.permission = permission

    def __call__(self, request: Request, auth: AuthDep) -> Principal:
        return auth.api_principal(request, self.permission)


class PageUser:
    """A page's visitor: anonymous -> 303 to /login?next=..., no permission -> the 403 page."""

    def __init__(self, permission: str | None = None):
        self.permission = permission

    def __call__(self, request: Request, auth: AuthDep) -> Principal:
        return auth.page_principal(request, self.permission)


async def csrf_form(request: Request, who: Principal) -> dict[str, str]:
    """A page's form fields, its CSRF token checked (`Auth.check_csrf`): for forms that change something."""
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    get_deps(request).auth.check_csrf(request, who, data.get("csrf"))
    return data
