"""Call transfer pieces, pure functions: REFER (RFC 3515), message/sipfrag progress (RFC 3420),
Replaces (RFC 3891) and the attended-transfer Refer-To of RFC 5589.

The endpoint does the I/O; here live the header formats, so they are tested without sockets.

Replaces' tags are written from the point of view of the UA that receives the INVITE carrying
it (RFC 3891 §3): `to-tag` is compared with that UA's local tag, `from-tag` with its remote tag.
So to replace our dialog with an agent, the Refer-To we send the caller carries
`to-tag=<the agent's tag>;from-tag=<our tag>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from .sip_errors import SipParseError
from .sip_headers import SipUri, parse_name_addr, parse_params

SIPFRAG = "message/sipfrag;version=2.0"


@dataclass
class ReferResult:
    """How a REFER we sent ended: the REFER's own response, then the NOTIFY progress (sipfrag)."""

    response: int  # 202 when the peer took the REFER on; 0 when it never answered
    status: int = 0  # the final sipfrag status (200 = transferred); 0 when no final NOTIFY came
    reason: str = ""
    progress: list[int] = field(default_factory=list)  # every sipfrag status, in order

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Replaces:
    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False

    def __str__(self) -> str:
        out = f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}"
        return out + (";early-only" if self.early_only else "")


def parse_replaces(value: str) -> Replaces:
    """`callid;to-tag=a;from-tag=b[;early-only]` → Replaces. Raises SipParseError."""
    call_id, semi, rest = value.strip().partition(";")
    if not call_id or not semi:
        raise SipParseError(f"bad Replaces: {value!r}")
    params = parse_params(";" + rest, what="Replaces")
    to_tag, from_tag = params.get("to-tag"), params.get("from-tag")
    if not to_tag or not from_tag:
        raise SipParseError(f"Replaces without to-tag/from-tag: {value!r}")
    return Replaces(call_id.strip(), to_tag, from_tag, "early-only" in params)


def refer_to_value(target: str | SipUri, replaces: Replaces | None = None) -> str:
    """The Refer-To header value; with `replaces`, the escaped `?Replaces=` URI header."""
    uri = str(target)
    if replaces is not None:
        uri = uri.split("?", 1)[0] + "?Replaces=" + quote(str(replaces), safe="")
    return f"<{uri}>"


@dataclass
class ReferTarget:
    uri: str  # where to send the new INVITE, without URI headers
    replaces: str | None = None  # the unescaped Replaces value to carry on that INVITE
    headers: dict[str, str] = field(default_factory=dict)  # every URI header, unescaped


def parse_refer_to(value: str) -> ReferTarget:
    na = parse_name_addr(value)
    uri = na.uri
    headers: dict[str, str] = {}
    if uri.headers:
        for part in uri.headers.split("&"):
            name, _, v = part.partition("=")
            if name:
                headers[unquote(name).strip().lower()] = unquote(v)
    bare = SipUri(uri.scheme, uri.user, uri.password, uri.host, uri.port, dict(uri.params), None, uri.opaque)
    replaces = headers.get("replaces")
    if replaces is not None:
        parse_replaces(replaces)  # validate early: a broken Replaces is a 400 on the REFER
    return ReferTarget(str(bare), replaces, headers)


def sipfrag(status: int, reason: str) -> bytes:
    return f"SIP/2.0 {status} {reason}\r\n".encode()


def parse_sipfrag(body: bytes) -> tuple[int, str] | None:
    """The status line of a message/sipfrag body, or None when it has none."""
    line = body.decode("utf-8", "replace").lstrip().split("\r\n", 1)[0].split("\n", 1)[0]
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("SIP/") or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2].strip() if len(parts) > 2 else ""


def event_id(value: str | None) -> tuple[str, str | None]:
    """`refer;id=7` → ("refer", "7")."""
    if not value:
        return "", None
    name, _, rest = value.partition(";")
    params = parse_params(";" + rest, what="Event") if rest else {}
    return name.strip().lower(), params.get("id")


def subscription_state(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()
