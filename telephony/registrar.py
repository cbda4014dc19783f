"""The registrar role: REGISTER with digest authentication (RFC 3261 §10, §22; RFC 7616, RFC 8760).

`SipEndpoint` hands every out-of-dialog REGISTER from an allowed source to `handle()` and
sends back the status it returns (None: send nothing, a source being refused silently); the
bindings it accepts go to the application's `on_register`. It holds no sockets, so it is tested
with plain requests and a fake clock.

Against the tools attackers use (SIPVicious `svwar`, `svcrack`): an unknown user is answered
exactly as a known one (a challenge, then 403 for any answer, after the same hashing against a
per-user HA1 made up from a secret), so names cannot be told apart; failed answers go to a
`guard` (the store's shared counter) that refuses a source past its threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import hmac
import logging
import secrets
import time
from typing import Callable, Mapping, Protocol

from .digest import ALGORITHMS, algorithm_name, digest_response_ha1, ha1, parse_digest
from .sip_errors import SipParseError
from .sip_headers import parse_name_addr, parse_vias
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


Credentials = Mapping[str, str]  # algorithm ("MD5", "SHA-256") → HA1 hex


class AuthGuard(Protocol):
    """Failed digest answers counted where every worker sees them (the store's `AuthFailures`)."""

    def refusal(self, source: str) -> str | None:
        """None: go on; "drop": send nothing; "forbid": 403 without looking at the credentials."""

    def failed(self, user: str, source: str) -> None: ...

    def succeeded(self, user: str, source: str) -> None: ...


def credentials(user: str, realm: str, secret: str | Credentials | None) -> Credentials | None:
    """What `credentials_for` gave, as HA1s: a plain password (the old configs) is hashed here."""
    if secret is None or isinstance(secret, Mapping):
        return secret
    return {alg: ha1(user, realm, secret, alg) for alg in ALGORITHMS}


class DigestRegistrar:
    """A registrar for `SipEndpoint(config, on_call, registrar=...)`: digest with SHA-256 and MD5
    (RFC 7616, RFC 8760, qop=auth; one challenge per algorithm).

    `credentials_for(user)` gives the user's stored HA1s ({"MD5": ..., "SHA-256": ...}; a plain
    password string is still taken and hashed), None for an unknown user. Every REGISTER without
    valid credentials gets a 401 challenge; nonces are HMAC-signed timestamps (a stale one is
    re-challenged with `stale=true`), and a nonce-count that does not grow (a replay) is
    re-challenged too. The user is the To URI's user part; a wrong answer, credentials for another
    user, or any answer for an unknown user → 403, all after the same work. With a `guard`, a
    refused source gets nothing or 403 and each 403 is counted. Expiry per RFC 3261 §10.2.1.1 (Contact `expires` param, else the Expires
    header, else `default_expires`), capped at `max_expires`; below `min_expires` → 423 with
    Min-Expires; 0 removes the binding, `Contact: *` with `Expires: 0` removes all of them.
    Each accepted binding goes to `on_register(Registration)`, which may return the expiry it
    grants (an int) and may raise ValueError to refuse it (403). The 200 lists the user's live
    bindings, each with its remaining `expires`.
    """

    def __init__(
        self,
        credentials_for: Callable[[str], str | Credentials | None],
        on_register: Callable[[Registration], int | None] | None = None,
        *,
        guard: AuthGuard | None = None,
        algorithms: tuple[str, ...] = ("MD5", "SHA-256"),
        trusted: Callable[[str], bool] | None = None,
        realm: str = "ivr",
        default_expires: int = 3600,
        min_expires: int = 60,
        max_expires: int = 7200,
        nonce_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials_for = credentials_for
        self.guard = guard
        if not algorithms or any(algorithm_name(a) != a for a in algorithms):
            raise ValueError(f"algorithms: a non-empty choice of {', '.join(ALGORITHMS)}")
        self.algorithms = algorithms
        self.trusted = trusted  # proxies in front (Kamailio): count the address they received from, not them
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

    def challenge(self, stale: bool = False, algorithm: str = "MD5") -> tuple[str, str]:
        value = f'Digest realm="{self.realm}", nonce="{self.nonce()}", algorithm={algorithm}, qop="auth"'
        return "WWW-Authenticate", value + (", stale=true" if stale else "")

    def challenges(self, stale: bool = False) -> list[tuple[str, str]]:
        """One WWW-Authenticate per algorithm (RFC 8760 §2.4), in `algorithms` order: MD5 first by
        default, since many deployed phones (and sipp) read only the first challenge; clients that
        know SHA-256 pick it from the second."""
        return [self.challenge(stale, alg) for alg in self.algorithms]

    def check(self, auth: dict[str, str], method: str, secret: str | Credentials) -> bool:
        """Whether `auth` answers with `secret` (HA1s, or a password); the same work either way."""
        qop = auth.get("qop")
        algorithm = algorithm_name(auth.get("algorithm"))
        creds = credentials(auth.get("username", ""), self.realm, secret) or {}
        if algorithm is None or algorithm not in creds:
            algorithm, good = "MD5", False
        else:
            good = qop in ("auth", None)
        expected = digest_response_ha1(creds.get(algorithm, "0" * 32), method, auth.get("uri", ""), auth.get("nonce", ""),
                                       qop, auth.get("nc", ""), auth.get("cnonce", ""), algorithm)
        return hmac.compare_digest(expected, auth.get("response", "").lower()) and good

    def _decoy(self, user: str) -> Credentials:
        """HA1s for a user who does not exist: unguessable, and the same for every request."""
        mac = hmac.new(self._secret, b"decoy:" + user.encode(), hashlib.sha256).hexdigest()
        return {"SHA-256": mac, "MD5": mac[:32]}

    # -- the request --
    def live(self, user: str) -> dict[str, int]:
        """`user`'s unexpired bindings: contact URI → seconds left."""
        now = self.clock()
        table = self.bindings.get(user, {})
        for contact in [c for c, until in table.items() if until <= now]:
            del table[contact]
        return {c: max(1, round(until - now)) for c, until in table.items()}

    def client_address(self, req: SipRequest, source: Source) -> str:
        """Who is answering the challenge: the source, or, from a `trusted` proxy, the address that
        proxy received the request from (the next Via's `received`, else its host: RFC 3261 §18.2.1)."""
        ip = source.addr[0]
        if self.trusted is None or not self.trusted(ip):
            return ip
        try:
            vias = parse_vias(req.headers.get_all("Via"))
        except SipParseError:
            return ip
        if len(vias) < 2:
            return ip
        return str(vias[1].params.get("received") or vias[1].host)

    def refusal(self, source: Source, req: SipRequest | None = None) -> str | None:
        """The guard's word on this request's client before the credentials are looked at:
        None, "drop" or "forbid"."""
        if self.guard is None:
            return None
        try:
            return self.guard.refusal(self.client_address(req, source) if req is not None else source.addr[0])
        except Exception as exc:  # a store that is away must not stop phones registering
            log.warning("auth guard unavailable: %s", type(exc).__name__)
            return None

    def handle(self, req: SipRequest, source: Source) -> tuple[int, str, list[tuple[str, str]]] | None:
        """(status, reason, extra headers) for a REGISTER; None: answer nothing (a refused source)."""
        refused = self.refusal(source, req)
        if refused == "drop":
            return None
        if refused == "forbid":
            return 403, "Forbidden", []
        user = req.to.uri.user
        if not user:
            return 404, "Not Found", []
        known = credentials(user, self.realm, self.credentials_for(user))
        creds = known or self._decoy(user)  # unknown users go through the very same steps
        auth = parse_digest(req.headers.get("Authorization") or "")
        if auth is None or "nonce" not in auth or "response" not in auth or auth.get("realm") != self.realm:
            return 401, "Unauthorized", self.challenges()
        if algorithm_name(auth.get("algorithm")) is None:
            return 401, "Unauthorized", self.challenges()
        age = self._nonce_age(auth["nonce"])
        if age is None:
            return 401, "Unauthorized", self.challenges()
        if age > self.nonce_ttl:
            return 401, "Unauthorized", self.challenges(stale=True)
        good = self.check(auth, req.method, creds)
        if auth.get("username") != user or not good or known is None:
            self._failed(user, self.client_address(req, source))
            return 403, "Forbidden", []
        if not self._fresh_nc(auth):  # a replayed Authorization: make the client answer a new nonce
            return 401, "Unauthorized", self.challenges()
        if self.guard is not None:
            self._guarded(self.guard.succeeded, user, self.client_address(req, source))
        return self._bind(req, source, user)

    def _failed(self, user: str, client: str) -> None:
        log.info("REGISTER: wrong credentials for a user from %s", client)  # no name: it may be a password
        if self.guard is not None:
            self._guarded(self.guard.failed, user, client)

    def _guarded(self, step: Callable[[str, str], None], user: str, client: str) -> None:
        try:
            step(user, client)
        except Exception as exc:
            log.warning("auth guard unavailable: %s", type(exc).__name__)

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
