"""Sign-in, roles and request checks for the web panel, the agent desktop and the API.

Who may do what (``PERMISSIONS``): admins everything; supervisors watch (calls, live view,
metrics, the policy read-only, any agent's desktop); agents their own desktop, the calls they
took and their dispositions. An agent's user name is their agent id in the directory.

A request is signed in by a session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS; only its
SHA-256 is stored) or, for scripts, by ``Authorization: Bearer $IVR_ADMIN_TOKEN`` (an admin).
A cookie-signed request that changes something must carry the session's CSRF token (form field
``csrf`` or header ``X-CSRF-Token``) and, when the browser sends one, an Origin of this host.
Anonymous page requests go to /login; anonymous API requests get 401; a role without the
permission gets 403. Failed sign-ins are throttled per client address and per user name: in the
store when `failures` (`store.auth_guard`) is given, so every worker shares the count and a restart
keeps it; in this process's memory otherwise.
Passwords are hashed with argon2id; nothing here logs a password, token or cookie.
"""

from __future__ import annotations

import hmac
import os
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException, Request

from store.accounts import ROLES, Accounts
from store.auth_guard import AuthFailures

SESSION_COOKIE = "ivr_session"
LOGIN_CSRF_COOKIE = "ivr_login_csrf"
SESSION_TTL = timedelta(hours=12)  # one shift
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "policy.read": frozenset({"admin", "supervisor"}),
    "policy.write": frozenset({"admin"}),
    "calls.read": frozenset({"admin", "supervisor"}),
    "live.read": frozenset({"admin", "supervisor"}),
    "callbacks.manage": frozenset({"admin", "supervisor"}),
    "metrics.read": frozenset({"admin", "supervisor"}),
    "desktop.any": frozenset({"admin", "supervisor"}),
    "users.manage": frozenset({"admin"}),
}
assert all(r in ROLES for roles in PERMISSIONS.values() for r in roles)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("not a password anyone has")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password: at least 8 characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (an unknown name is checked against a dummy)."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


@dataclass(frozen=True)
class Principal:
    """Who is asking: ``name`` is what audits record; ``csrf`` is None for bearer-token requests."""

    name: str
    role: str
    via: str  # "session" or "token"
    csrf: str | None = None

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)


class LoginThrottle:
    """Sliding-window count of failed sign-ins per key; pure apart from the clock it is given.

    ``retry_after(key)`` > 0 means refuse without checking the password. Successful sign-ins do
    not clear a client address's count (an attacker with one valid account could reset it), only
    the user name's.
    """

    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic):
        self.max_failures, self.window_s, self.clock = max_failures, window_s, clock
        self._fails: dict[str, deque[float]] = {}

    def _live(self, key: str) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        cutoff = self.clock() - self.window_s
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def retry_after(self, key: str) -> float:
        q = self._live(key)
        if len(q) < self.max_failures:
            if not q:
                self._fails.pop(key, None)
            return 0.0
        return max(0.0, q[0] + self.window_s - self.clock())

    def failed(self, key: str) -> None:
        self._live(key).append(self.clock())
        if len(self._fails) > 10_000:  # bounded memory under a spray of names
            for k in list(self._fails)[:5_000]:
                del self._fails[k]

    def clear(self, key: str) -> None:
        self._fails.pop(key, None)


class PageRedirect(Exception):
    """Raised by page checks: the app turns it into a 303 to the sign-in page."""

    def __init__(self, location: str):
        self.location = location


class Auth:
    def __init__(self, accounts: Accounts, *, admin_token: str | None = None,
                 per_client: LoginThrottle | None = None, per_user: LoginThrottle | None = None,
                 failures: AuthFailures | None = None):
        self.accounts = accounts
        self.failures = failures  # the store's shared count (every worker, kept across restarts); else in memory
        token = admin_token or os.environ.get("IVR_ADMIN_TOKEN") or None
        self._token = token.encode() if token else None
        self.per_client = per_client or LoginThrottle(20, 300.0)
        self.per_user = per_user or LoginThrottle(5, 300.0)

    # ---------------------------------------------------------------- who is this
    def principal(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and self._token is not None:
            if hmac.compare_digest(given.strip().encode(), self._token):
                return Principal("admin-token", "admin", "token")
            return None
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        found = self.accounts.session(cookie)
        if found is None:
            return None
        user, csrf = found
        return Principal(user["name"], user["role"], "session", csrf)

    # ---------------------------------------------------------------- sign-in
    def sign_in(self, client: str, name: str, password: str) -> tuple[str, str] | float | None:
        """(cookie, csrf) on success; seconds to wait when throttled; None when refused."""
        key = name.lower()
        if self.failures is not None:
            wait = self.failures.blocked_for("web", source=client, user=key)
        else:
            wait = max(self.per_client.retry_after(client), self.per_user.retry_after(key))
        if wait > 0:
            return wait
        user = self.accounts.get_user(name) if name else None
        ok = verify_password(user["password_hash"] if user else None, password)
        if not ok or user is None or user["disabled"]:
            if self.failures is not None:
                self.failures.failed("web", key, client)
            else:
                self.per_client.failed(client)
                self.per_user.failed(key)
            return None
        if self.failures is not None:
            self.failures.succeeded("web", key, client)
        else:
            self.per_user.clear(key)
        if needs_rehash(user["password_hash"]):
            self.accounts.set_password_hash(name, hash_password(password))
        return self.accounts.create_session(name, SESSION_TTL)

    # ---------------------------------------------------------------- checks
    def check_csrf(self, request: Request, who: Principal, form_token: str | None = None) -> None:
        """Cookie-signed changes must prove they come from our own page."""
        if who.via != "session" or request.method not in UNSAFE_METHODS:
            return
        if not same_origin(request):
            raise HTTPException(403, "cross-site request refused")
        given = form_token or request.headers.get("x-csrf-token") or ""
        if not (who.csrf and hmac.compare_digest(given.encode(), who.csrf.encode())):
            raise HTTPException(403, "missing or wrong CSRF token; reload the page")

    def api_principal(self, request: Request, permission: str | None = None) -> Principal:
        """A JSON route's caller: 401 when anonymous, 403 without the permission."""
        who = self.principal(request)
        if who is None:
            raise HTTPException(401, "sign in first (session cookie or Authorization: Bearer)",
                                headers={"WWW-Authenticate": "Bearer"})
        if permission is not None and not who.can(permission):
            raise HTTPException(403, f"your role ({who.role}) may not do this")
        self.check_csrf(request, who)
        return who

    def page_principal(self, request: Request, permission: str | None = None) -> Principal:
        """A page's visitor: anonymous -> /login?next=..., no permission -> 403 page."""
        who = self.principal(request)
        if who is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise PageRedirect(f"/login?next={quote(target, safe='')}")
        if permission is not None and not who.can(permission):
            raise HTTPException(403, f"your role ({who.role}) may not see this page")
        return who


def same_origin(request: Request) -> bool:
    """True unless the browser says the request came from another origin."""
    origin = request.headers.get("origin")
    if not origin or origin == "null" and request.method not in UNSAFE_METHODS:
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def safe_next(target: str | None) -> str:
    """Only same-site paths after sign-in: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
