"""Typed values of the SIP header fields the endpoint acts on (RFC 3261 §20, §25).

Each parser is a pure function from a header's text to a small dataclass, and each dataclass
serialises itself back with `str()`. Everything that goes wrong raises `SipParseError`, so a
caller can reject a message with one except clause. Headers the endpoint never interprets stay
raw text in `Headers`; only these are parsed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from .sip_errors import SipParseError

TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-_.]*[A-Za-z0-9_])?\.?")
_LWS = " \t"
_PARAM_VALUE_CHARS = TOKEN_CHARS | frozenset(":[]")  # token / host (IPv6 with or without [])


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def is_token(text: str) -> bool:
    return bool(text) and _TOKEN_RE.fullmatch(text) is not None


def unquote(text: str) -> str:
    """Contents of a quoted-string without the quotes, quoted-pairs expanded."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise SipParseError(f"not a quoted string: {text!r}")
    out = []
    i, end = 1, len(text) - 1
    while i < end:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= end:
                raise SipParseError("dangling backslash in quoted string")
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            raise SipParseError("unescaped quote inside quoted string")
        out.append(ch)
        i += 1
    return "".join(out)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _end_of_quoted(text: str, start: int) -> int:
    """Index just past the quoted-string opening at `start`."""
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    raise SipParseError("unterminated quoted string")


def split_outside(text: str, sep: str) -> list[str]:
    """Split on `sep` where it is outside quoted strings and <...> (header lists, params)."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i = _end_of_quoted(text, i)
            continue
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def split_header_list(value: str) -> list[str]:
    """The comma-separated elements of a list header (Via, Contact, Route, Allow, ...)."""
    return [p.strip(_LWS) for p in split_outside(value, ",")]


def parse_params(text: str, *, what: str) -> dict[str, str | None]:
    """`;name=value;flag` into an ordered dict; names case-insensitive (lower-cased).

    An empty parameter (`;;`) is a syntax error (RFC 4475 §3.1.2.1).
    """
    params: dict[str, str | None] = {}
    if not text.strip(_LWS):
        return params
    pieces = split_outside(text, ";")
    if pieces[0].strip(_LWS):
        raise SipParseError(f"junk before parameters in {what}: {pieces[0]!r}")
    for piece in pieces[1:]:
        name, eq, value = piece.partition("=")
        name = name.strip(_LWS)
        if not is_token(name):
            raise SipParseError(f"bad parameter name in {what}: {piece!r}")
        if eq:
            value = value.strip(_LWS)
            if value.startswith('"'):
                if _end_of_quoted(value, 0) != len(value):
                    raise SipParseError(f"junk after quoted parameter in {what}")
            elif not value or not all(c in _PARAM_VALUE_CHARS for c in value):
                raise SipParseError(f"bad parameter value in {what}: {piece!r}")
            params[name.lower()] = value
        else:
            params[name.lower()] = None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _is_ipv6_ref(text: str) -> bool:
    if len(text) < 4 or text[0] != "[" or text[-1] != "]":
        return False
    try:
        ipaddress.IPv6Address(text[1:-1])
    except ValueError:
        return False
    return True


def parse_host(text: str) -> str:
    """Validate a host: a hostname, an IPv4 address or a bracketed IPv6 reference."""
    if text.startswith("["):
        if not _is_ipv6_ref(text):
            raise SipParseError(f"bad IPv6 reference: {text!r}")
        return text
    if not text or _HOSTNAME_RE.fullmatch(text) is None:
        raise SipParseError(f"bad host: {text!r}")
    return text


def split_hostport(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise SipParseError(f"unterminated IPv6 reference: {text!r}")
        host, rest = text[: close + 1], text[close + 1 :]
    else:
        host, colon, port = text.partition(":")
        rest = ":" + port if colon else ""
    host = parse_host(host)
    if not rest:
        return host, None
    if not rest.startswith(":") or not _is_digits(rest[1:]) or len(rest) > 6 or int(rest[1:]) > 65535:
        raise SipParseError(f"bad port in {text!r}")
    return host, int(rest[1:])


def host_to_ip(host: str) -> str:
    """A URI/Via host as a socket address string (IPv6 brackets removed)."""
    return host[1:-1] if host.startswith("[") else host


@dataclass
class SipUri:
    """A URI. sip:/sips: URIs are taken apart; any other scheme stays opaque in `opaque`."""

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str | None = None
    opaque: str | None = None

    @property
    def is_sip(self) -> bool:
        return self.opaque is None

    def __str__(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        out = self.scheme + ":"
        if self.user is not None:
            out += self.user + (f":{self.password}" if self.password is not None else "") + "@"
        out += self.host + (f":{self.port}" if self.port is not None else "")
        out += format_params(self.params)
        if self.headers:
            out += "?" + self.headers
        return out

    def address(self, default_port: int = 5060) -> tuple[str, int]:
        return host_to_ip(self.host), self.port or default_port


def parse_uri(text: str, *, allow_headers: bool = True) -> SipUri:
    if not text or any(c in text for c in " \t\r\n<>\""):
        raise SipParseError(f"bad URI: {text!r}")
    scheme, colon, rest = text.partition(":")
    if not colon or _SCHEME_RE.fullmatch(scheme) is None or not rest:
        raise SipParseError(f"bad URI scheme: {text!r}")
    scheme = scheme.lower()
    if scheme not in ("sip", "sips"):
        return SipUri(scheme=scheme, opaque=rest)
    user = password = None
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
        if not userinfo:
            raise SipParseError(f"empty user part: {text!r}")
        user, pcolon, pw = userinfo.partition(":")
        password = pw if pcolon else None
    rest, qmark, headers = rest.partition("?")
    if qmark and not allow_headers:
        raise SipParseError(f"URI headers not allowed here: {text!r}")
    hostport, _, params = rest.partition(";")
    host, port = split_hostport(hostport)
    uri_params: dict[str, str | None] = {}
    if params:
        for piece in params.split(";"):
            name, eq, value = piece.partition("=")
            if not name:
                raise SipParseError(f"empty URI parameter: {text!r}")
            uri_params[name.lower()] = value if eq else None
    return SipUri(scheme, user, password, host, port, uri_params, headers if qmark else None)


@dataclass
class NameAddr:
    """From/To/Contact/Route value: optional display name, URI, header parameters."""

    uri: SipUri
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    bracketed: bool = True

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        out = f"<{self.uri}>"
        if self.display:
            out = f"{quote(self.display)} {out}"
        return out + format_params(self.params)


def parse_name_addr(text: str) -> NameAddr:
    """name-addr / addr-spec with header params (RFC 3261 §20.10, §25.1).

    Whitespace inside <...> (RFC 4475 §3.1.2.14), commas in an unquoted display name
    (§3.1.2.15) and URI headers outside <...> (§3.1.2.13) are rejected.
    """
    s = text.strip(_LWS + "\r\n")
    if not s:
        raise SipParseError("empty address")
    display: str | None = None
    if s.startswith('"'):
        end = _end_of_quoted(s, 0)
        display = unquote(s[:end])
        s = s[end:].lstrip(_LWS)
        if not s.startswith("<"):
            raise SipParseError("quoted display name without <URI>")
    lt = s.find("<")
    if lt >= 0 and not s.startswith("<") and display is None:
        words = s[:lt].split()
        if not all(is_token(w) for w in words):
            raise SipParseError(f"bad display name: {s[:lt]!r}")
        display = " ".join(words)
        s = s[lt:]
    if s.startswith("<"):
        gt = s.find(">")
        if gt < 0:
            raise SipParseError("unterminated <URI>")
        uri = parse_uri(s[1:gt])
        return NameAddr(uri, display, parse_params(s[gt + 1 :], what="address"), True)
    if '"' in s or ">" in s or "<" in s:
        raise SipParseError(f"bad address: {text!r}")
    uri_text, semi, params = s.partition(";")
    if "?" in uri_text or "," in uri_text:
        raise SipParseError("URI with headers or commas must be enclosed in <>")
    uri = parse_uri(uri_text.rstrip(_LWS), allow_headers=False)
    return NameAddr(uri, None, parse_params(semi + params, what="address"), False)


@dataclass
class Via:
    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        return self.host + (f":{self.port}" if self.port is not None else "")

    def __str__(self) -> str:
        return f"SIP/2.0/{self.transport} {self.sent_by}{format_params(self.params)}"


_VIA_RE = re.compile(
    r"\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)"
    r"\s+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-_.]+)(?:\s*:\s*([0-9]{1,5}))?\s*(;.*)?",
    re.S,
)


def parse_via(text: str) -> Via:
    m = _VIA_RE.fullmatch(text)
    if m is None:
        raise SipParseError(f"bad Via: {text!r}")
    proto, version, transport, host, port, params = m.groups()
    if proto.upper() != "SIP":
        raise SipParseError(f"bad Via protocol: {text!r}")
    host = parse_host(host)
    if port is not None and int(port) > 65535:
        raise SipParseError(f"bad Via port: {text!r}")
    return Via(transport.upper(), host, int(port) if port else None, parse_params(params or "", what="Via"))


def parse_vias(values: list[str]) -> list[Via]:
    return [parse_via(v) for value in values for v in split_header_list(value)]


@dataclass(frozen=True)
class CSeq:
    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(text: str) -> CSeq:
    parts = text.split()
    if len(parts) != 2 or not _is_digits(parts[0]) or not is_token(parts[1]):
        raise SipParseError(f"bad CSeq: {text!r}")
    number = int(parts[0]) if len(parts[0]) <= 12 else 2**31
    if number >= 2**31:
        raise SipParseError(f"CSeq number out of range: {parts[0]}")
    return CSeq(number, parts[1])


def parse_uint(text: str, *, what: str, limit: int) -> int:
    s = text.strip(_LWS)
    if not _is_digits(s):
        raise SipParseError(f"bad {what}: {text!r}")
    value = int(s[:20]) if len(s) <= 20 else limit + 1
    if value > limit:
        raise SipParseError(f"{what} out of range: {text!r}")
    return value
