"""The registrar role: REGISTER with digest authentication (RFC 3261 §10, §22; RFC 2617).

`SipEndpoint` hands every out-of-dialog REGISTER from an allowed source to `handle()` and
sends back the status it returns; the bindings it accepts go to the application's
`on_register`. It holds no sockets, so it is tested with plain requests and a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import hmac
import logging
import secrets
import time
from typing import Callable

from .digest import digest_response, parse_digest
from .sip_errors import SipParseError
from .sip_headers import parse_name_addr
from .sip_message import SipRequest
from .sip_transport import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    """One binding a REGISTER asked for (RFC 3261 §10.3), as the registrar hands it on."""

    user: str  # the address-of-record's user part (the To URI), e.g. "alice"
    aor: str  # the To URI
    contact: str  # the Contact URI to send INVITEs to; "*" when every binding of `user` is removed
    expires: int  # seconds granted; 0 removes the binding
    source: tuple[str, int]
    transport: str
    user_agent: str | None = None


class DigestRegistrar:
    """A registrar for `SipEndpoint(config, on_call, registrar=...)`: MD5 digest (RFC 3261 §22, RFC 2617, qop=auth).

    Every REGISTER without valid credentials gets a 401 challenge; nonces are HMAC-signed
    timestamps (a stale one is re-challenged with `stale=true`), and a nonce-count that does
    not grow (a replay) is re-challenged too. The user is the To URI's user part: unknown to
    `password_for` → 404; credentials for another user or a wrong password → 403. Expiry per RFC 3261 §10.2.1.1 (Contact `expires` param, else the Expires
    header, else `default_expires`), capped at `max_expires`; below `min_expires` → 423 with
    Min-Expires; 0 removes the binding, `Contact: *` with `Expires: 0` removes all of them.
    Each accepted binding goes to `on_register(Registration)`, which may return the expiry it
    grants (an int) and may raise ValueError to refuse it (403). The 200 lists the user's live
    bindings, each with its remaining `expires`.
    """

    def __init__(
        self,
        password_for: Callable[[str], str | None],
        on_register: Callable[[Registration], int | None] | None = None,
        *,
        realm: str = "ivr",
        default_expires: int = 3600,
        min_expires: int = 60,
        max_expires: int = 7200,
        nonce_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.password_for = password_for
        self.on_register = on_register
        self.realm = realm
        self.default_expires = default_expires
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.nonce_ttl = nonce_ttl
        self.clock = clock
        self._secret = secrets.token_bytes(32)
        self.bindings: dict[str, dict[str, float]] = {}  # user → contact URI → expiry (clock time)
        self._nc: dict[str, int] = {}  # nonce → highest nonce-count accepted

    # -- nonces --
    def nonce(self) -> str:
        """`<ms timestamp>.<salt>.<mac>`: unique per challenge, and verifiable without a table."""
        body = f"{int(self.clock() * 1000):x}.{secrets.token_hex(6)}"
        return body + "." + hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:24]

    def _nonce_age(self, nonce: str) -> float | None:
        body, dot, mac = nonce.rpartition(".")
        good = hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:24]
        if not dot or not hmac.compare_digest(mac, good):
            return None
        stamp = body.partition(".")[0]
        try:
            return self.clock() - int(stamp, 16) / 1000
        except ValueError:
            return None

    def challenge(self, stale: bool = False) -> tuple[str, str]:
        value = f'Digest realm="{self.realm}", nonce="{self.nonce()}", algorithm=MD5, qop="auth"'
        return "WWW-Authenticate", value + (", stale=true" if stale else "")

    def check(self, auth: dict[str, str], method: str, password: str) -> bool:
        qop = auth.get("qop")
        if qop not in ("auth", None):
            return False
        expected = digest_response(auth.get("username", ""), self.realm, password, method, auth.get("uri", ""),
                                   auth["nonce"], qop, auth.get("nc", ""), auth.get("cnonce", ""))
        return hmac.compare_digest(expected, auth.get("response", "").lower())

    # -- the request --
    def live(self, user: str) -> dict[str, int]:
        """`user`'s unexpired bindings: contact URI → seconds left."""
        now = self.clock()
        table = self.bindings.get(user, {})
        for contact in [c for c, until in table.items() if until <= now]:
            del table[contact]
        return {c: max(1, round(until - now)) for c, until in table.items()}

    def handle(self, req: SipRequest, source: Source) -> tuple[int, str, list[tuple[str, str]]]:
        """(status, reason, extra headers) for a REGISTER."""
        user = req.to.uri.user
        if not user:
            return 404, "Not Found", []
        password = self.password_for(user)
        if password is None:
            return 404, "Not Found", []
        auth = parse_digest(req.headers.get("Authorization") or "")
        if auth is None or "nonce" not in auth or "response" not in auth or auth.get("realm") != self.realm:
            return 401, "Unauthorized", [self.challenge()]
        if auth.get("algorithm", "MD5").upper() != "MD5":
            return 401, "Unauthorized", [self.challenge()]
        age = self._nonce_age(auth["nonce"])
        if age is None:
            return 401, "Unauthorized", [self.challenge()]
        if age > self.nonce_ttl:
            return 401, "Unauthorized", [self.challenge(stale=True)]
        if auth.get("username") != user or not self.check(auth, req.method, password):
            return 403, "Forbidden", []
        if not self._fresh_nc(auth):  # a replayed Authorization: make the client answer a new nonce
            return 401, "Unauthorized", [self.challenge()]
        return self._bind(req, source, user)

    def _fresh_nc(self, auth: dict[str, str]) -> bool:
        """qop=auth: each nonce's nonce-count must grow (RFC 2617 §3.2.2), so a captured request
        cannot be replayed while its nonce is young."""
        if auth.get("qop") != "auth":
            return True
        try:
            nc = int(auth.get("nc", ""), 16)
        except ValueError:
            return False
        nonce = auth["nonce"]
        if nc <= self._nc.get(nonce, 0):
            return False
        if len(self._nc) > 4096:  # forget nonces past their lifetime
            self._nc = {n: c for n, c in self._nc.items() if (self._nonce_age(n) or 1e9) <= self.nonce_ttl}
        self._nc[nonce] = nc
        return True

    def _bind(self, req: SipRequest, source: Source, user: str) -> tuple[int, str, list[tuple[str, str]]]:
        header_expires = req.headers.get("Expires")
        try:
            default = int(header_expires) if header_expires is not None else self.default_expires
        except ValueError:
            return 400, "Bad Expires", []
        contacts = req.headers.values("Contact")
        if "*" in contacts:
            if len(contacts) != 1 or default != 0:
                return 400, "Bad Contact", []
            self.bindings.pop(user, None)
            self._notify(Registration(user, str(req.to.uri), "*", 0, source.addr, source.transport,
                                      req.headers.get("User-Agent")))
            return 200, "OK", [("Date", _http_date())]
        wanted: list[tuple[str, int]] = []
        for value in contacts:
            addr = _parse_name_addr_safe(value)
            if addr is None:
                return 400, "Bad Contact", []
            raw = addr.params.get("expires")
            try:
                expires = int(raw) if raw is not None else default
            except ValueError:
                expires = default
            expires = max(0, min(expires, self.max_expires))
            if 0 < expires < self.min_expires:
                return 423, "Interval Too Brief", [("Min-Expires", str(self.min_expires))]
            wanted.append((str(addr.uri), expires))
        table = self.bindings.setdefault(user, {})
        for contact, expires in wanted:
            try:
                granted = self._notify(Registration(user, str(req.to.uri), contact, expires, source.addr, source.transport,
                                                    req.headers.get("User-Agent")))
            except ValueError as exc:
                log.info("REGISTER of %s refused: %s", user, exc)
                return 403, "Forbidden", []
            if granted is not None:
                expires = max(0, min(int(granted), expires))
            if expires:
                table[contact] = self.clock() + expires
            else:
                table.pop(contact, None)
        extra = [("Contact", f"<{c}>;expires={left}") for c, left in self.live(user).items()]
        return 200, "OK", extra + [("Date", _http_date())]

    def _notify(self, reg: Registration) -> int | None:
        log.info("REGISTER %s → %s for %d s", reg.user, reg.contact, reg.expires)
        return self.on_register(reg) if self.on_register is not None else None


def _parse_name_addr_safe(value: str):
    try:
        return parse_name_addr(value)
    except SipParseError:
        return None


def _http_date() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
