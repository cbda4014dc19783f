"""SIP messages (RFC 3261 §7): parse from bytes, build, serialise.

`parse_message` takes one UDP datagram (or one framed TCP message) and returns a `SipRequest`
or `SipResponse`, having validated the header fields the endpoint acts on; anything malformed or
oversized raises `SipParseError` and nothing else. `StreamFramer` cuts a TCP byte stream into
messages by Content-Length. Header names are kept in their long canonical form, so
`msg.headers.get("v")` and `msg.headers.get("VIA")` both find `Via`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Iterator, Union

from .sip_errors import SipParseError
from .sip_headers import (
    CSeq,
    NameAddr,
    SipUri,
    Via,
    is_token,
    parse_cseq,
    parse_name_addr,
    parse_uint,
    parse_uri,
    parse_vias,
    split_header_list,
)

MAX_MESSAGE_SIZE = 65535
MAX_HEADERS = 256

COMPACT_FORMS = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "o": "Event", "r": "Refer-To", "s": "Subject",
    "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires", "y": "Identity",
}
_CANONICAL = {
    n.lower(): n
    for n in [
        "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Authentication-Info",
        "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding",
        "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info", "Expires",
        "From", "In-Reply-To", "Max-Forwards", "Min-Expires", "MIME-Version", "Organization",
        "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "Record-Route",
        "Reply-To", "Require", "Retry-After", "Route", "Server", "Subject", "Supported", "Timestamp",
        "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate", "Event",
        "Allow-Events", "Refer-To", "Referred-By", "Replaces", "Session-Expires", "Min-SE",
        "Reason", "RSeq", "RAck", "Identity", "Accept-Contact", "Reject-Contact",
        "Request-Disposition", "Subscription-State", "P-Asserted-Identity",
    ]
}
_SINGLE = ("Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length", "Content-Type")
_REQUEST_LINE = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+) ([^ ]+) (SIP/[0-9]+\.[0-9]+)")
_STATUS_LINE = re.compile(r"SIP/2\.0 ([0-9]{3})(?: (.*))?", re.S)


def canonical_name(name: str) -> str:
    low = name.lower()
    if low in COMPACT_FORMS:
        return COMPACT_FORMS[low]
    return _CANONICAL.get(low, name)


class Headers:
    """Ordered, repeatable, case-insensitive header fields (compact forms expanded)."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in items or []:
            self.add(name, value)

    def add(self, name: str, value: object) -> None:
        self._items.append((canonical_name(name), str(value)))

    def set(self, name: str, value: object) -> None:
        """Replace every occurrence of `name` with one value, keeping the first one's place."""
        name = canonical_name(name)
        low = name.lower()
        out, placed = [], False
        for n, v in self._items:
            if n.lower() == low:
                if not placed:
                    out.append((name, str(value)))
                    placed = True
            else:
                out.append((n, v))
        if not placed:
            out.append((name, str(value)))
        self._items = out

    def replace_first(self, name: str, value: object) -> None:
        """Replace the first field line of `name` in place (e.g. the top Via line)."""
        low = canonical_name(name).lower()
        for i, (n, _) in enumerate(self._items):
            if n.lower() == low:
                self._items[i] = (n, str(value))
                return
        self.add(name, value)

    def remove(self, name: str) -> None:
        low = canonical_name(name).lower()
        self._items = [(n, v) for n, v in self._items if n.lower() != low]

    def get(self, name: str, default: str | None = None) -> str | None:
        low = canonical_name(name).lower()
        for n, v in self._items:
            if n.lower() == low:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every field line of `name`, in order (not split on commas)."""
        low = canonical_name(name).lower()
        return [v for n, v in self._items if n.lower() == low]

    def values(self, name: str) -> list[str]:
        """The elements of a list header, across repeated lines and commas."""
        return [e for v in self.get_all(name) for e in split_header_list(v) if e]

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> "Headers":
        h = Headers()
        h._items = list(self._items)
        return h


@dataclass
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    # Typed views over the header fields the stack relies on; parsed on access.
    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> CSeq:
        value = self.headers.get("CSeq")
        if value is None:
            raise SipParseError("missing CSeq")
        return parse_cseq(value)

    @property
    def from_(self) -> NameAddr:
        return _address(self.headers, "From")

    @property
    def to(self) -> NameAddr:
        return _address(self.headers, "To")

    @property
    def vias(self) -> list[Via]:
        return parse_vias(self.headers.get_all("Via"))

    @property
    def top_via(self) -> Via:
        vias = self.vias
        if not vias:
            raise SipParseError("missing Via")
        return vias[0]

    @property
    def contact(self) -> NameAddr | None:
        values = self.headers.values("Contact")
        return parse_name_addr(values[0]) if values and values[0] != "*" else None

    def route_list(self, name: str = "Record-Route") -> list[NameAddr]:
        return [parse_name_addr(v) for v in self.headers.values(name)]

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def _head_and_body(self, start_line: str) -> bytes:
        lines = [start_line]
        for name, value in self.headers:
            if name != "Content-Length":
                lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", "surrogateescape") + self.body


def _address(headers: Headers, name: str) -> NameAddr:
    value = headers.get(name)
    if value is None:
        raise SipParseError(f"missing {name}")
    return parse_name_addr(value)


@dataclass
class SipRequest(_Message):
    method: str = "OPTIONS"
    uri: str = ""

    def __init__(self, method: str, uri: str | SipUri, headers: Headers | None = None, body: bytes = b"") -> None:
        super().__init__(headers if headers is not None else Headers(), body)
        self.method = method
        self.uri = str(uri)

    @property
    def request_uri(self) -> SipUri:
        return parse_uri(self.uri, allow_headers=False)

    def serialize(self) -> bytes:
        return self._head_and_body(f"{self.method} {self.uri} SIP/2.0")

    def __repr__(self) -> str:
        return f"<SipRequest {self.method} {self.uri} call-id={self.call_id!r}>"


@dataclass
class SipResponse(_Message):
    status: int = 200
    reason: str = "OK"

    def __init__(self, status: int, reason: str = "", headers: Headers | None = None, body: bytes = b"") -> None:
        super().__init__(headers if headers is not None else Headers(), body)
        self.status = status
        self.reason = reason or REASONS.get(status, "")

    def serialize(self) -> bytes:
        return self._head_and_body(f"SIP/2.0 {self.status} {self.reason}")

    def __repr__(self) -> str:
        return f"<SipResponse {self.status} {self.reason} call-id={self.call_id!r}>"


SipMessage = Union[SipRequest, SipResponse]

REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 407: "Proxy Authentication Required",
    408: "Request Timeout", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 500: "Server Internal Error",
    501: "Not Implemented", 503: "Service Unavailable", 505: "Version Not Supported",
    603: "Decline",
}


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    """Header section and the rest; the blank line may be CRLFCRLF or (leniently) LFLF."""
    candidates = [(i, n) for i, n in ((data.find(b"\r\n\r\n"), 4), (data.find(b"\n\n"), 2)) if i >= 0]
    if not candidates:
        raise SipParseError("no blank line after the header fields")
    i, n = min(candidates)
    return data[:i], data[i + n :]


def _unfold(head: str) -> list[str]:
    lines: list[str] = []
    for raw in head.replace("\r\n", "\n").split("\n"):
        if raw.startswith((" ", "\t")):
            if len(lines) < 2:
                raise SipParseError("continuation line before any header field")
            lines[-1] = lines[-1].rstrip(" \t") + " " + raw.strip(" \t")
        else:
            lines.append(raw)
    return lines


def parse_message(data: bytes, *, stream: bool = False, max_size: int = MAX_MESSAGE_SIZE) -> SipMessage:
    """Parse one SIP message. Raises `SipParseError` (only) on malformed or oversized input.

    Datagram rules (RFC 3261 §18.3): octets after Content-Length are discarded, a body shorter
    than Content-Length is an error, and without Content-Length the body runs to the end.
    With `stream=True` Content-Length is mandatory.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SipParseError("message must be bytes")
    data = bytes(data)
    if len(data) > max_size:
        raise SipParseError(f"message larger than {max_size} bytes", status=413)
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError("empty message (keep-alive)")
    head_bytes, rest = _split_head(data)
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError:
        head = head_bytes.decode("utf-8", "surrogateescape")
    lines = _unfold(head)
    start = lines[0]
    if len(lines) - 1 > MAX_HEADERS:
        raise SipParseError("too many header fields", status=413)
    headers = Headers()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not is_token(name):
            raise SipParseError(f"bad header line: {line[:80]!r}")
        headers.add(name, value.strip(" \t"))

    msg: SipMessage
    if start.startswith("SIP/"):
        m = _STATUS_LINE.fullmatch(start)
        if m is None:
            raise SipParseError(f"bad status line: {start[:80]!r}")
        code = int(m.group(1))
        if not 100 <= code <= 699:
            raise SipParseError(f"status code out of range: {code}")
        msg = SipResponse(code, m.group(2) or "", headers)
        msg.reason = m.group(2) or ""
    else:
        m = _REQUEST_LINE.fullmatch(start)
        if m is None:
            raise SipParseError(f"bad request line: {start[:80]!r}")
        method, uri, version = m.groups()
        if version != "SIP/2.0":
            raise SipParseError(f"unsupported SIP version {version}", status=505)
        parse_uri(uri, allow_headers=False)
        msg = SipRequest(method, uri, headers)

    length_values = headers.get_all("Content-Length")
    if len(length_values) > 1:
        raise SipParseError("more than one Content-Length")
    if length_values:
        length = parse_uint(length_values[0], what="Content-Length", limit=max_size)
        if length > len(rest):
            raise SipParseError(f"Content-Length {length} exceeds the {len(rest)} octets received")
        msg.body = rest[:length]
    elif stream:
        raise SipParseError("Content-Length is required on stream transports")
    else:
        msg.body = rest
    validate(msg)
    return msg


def validate(msg: SipMessage) -> None:
    """Check the fields the stack relies on; raises `SipParseError` (400) when one is bad."""
    h = msg.headers
    for name in _SINGLE:
        if len(h.get_all(name)) > 1:
            raise SipParseError(f"more than one {name}")
    if "Max-Forwards" in h:
        parse_uint(h.get("Max-Forwards") or "", what="Max-Forwards", limit=255)
    for name in ("Expires", "Min-Expires"):
        if name in h:
            parse_uint(h.get(name) or "", what=name, limit=2**32 - 1)
    if "Retry-After" in h:
        parse_uint((h.get("Retry-After") or "").split(";")[0].split("(")[0], what="Retry-After", limit=2**32 - 1)
    for warning in h.values("Warning"):
        code = warning.split(" ", 1)[0]
        if len(code) != 3 or not code.isdigit():
            raise SipParseError(f"bad Warning code: {warning[:40]!r}")
    if "CSeq" in h:
        cseq = msg.cseq
        if isinstance(msg, SipRequest) and cseq.method != msg.method and not (
            msg.method == "ACK" and cseq.method == "INVITE"
        ):
            raise SipParseError("CSeq method does not match the request method")
    if "Call-ID" in h:
        call_id = h.get("Call-ID") or ""
        if not call_id or any(c in call_id for c in " \t"):
            raise SipParseError("bad Call-ID")
    for name in ("From", "To"):
        if name in h:
            _address(h, name)
    msg.vias  # noqa: B018 - parse for validation
    for name in ("Contact", "Route", "Record-Route"):
        for value in h.values(name):
            if not (name == "Contact" and value == "*"):
                parse_name_addr(value)
            if name == "Contact":
                params = parse_name_addr(value).params if value != "*" else {}
                if "expires" in params and params["expires"] is not None:
                    parse_uint(params["expires"], what="Contact expires", limit=2**32 - 1)


def missing_mandatory(msg: SipMessage) -> list[str]:
    """Mandatory header fields absent from a message (RFC 3261 §8.1.1); non-empty → 400."""
    need = ["To", "From", "Call-ID", "CSeq", "Via"]  # Max-Forwards: RFC 2543 peers omit it
    return [n for n in need if n not in msg.headers]


class StreamFramer:
    """Cuts a TCP byte stream into SIP messages (RFC 3261 §18.3, Content-Length framing).

    `feed()` returns the messages completed by the new bytes. A malformed message raises
    `SipParseError`; since framing is then lost, the caller should close the connection.
    CRLF keep-alives (RFC 5626) between messages are skipped.
    """

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self.max_size = max_size

    def feed(self, data: bytes) -> list[SipMessage]:
        self._buf += data
        out: list[SipMessage] = []
        while True:
            while self._buf[:2] == b"\r\n" or self._buf[:1] == b"\n":
                del self._buf[: 2 if self._buf[:2] == b"\r\n" else 1]
            idx = self._buf.find(b"\r\n\r\n")
            if idx < 0:
                if len(self._buf) > self.max_size:
                    raise SipParseError("header section too large", status=413)
                return out
            head = bytes(self._buf[: idx + 4])
            length = self._content_length(head)
            total = idx + 4 + length
            if total > self.max_size:
                raise SipParseError("message too large", status=413)
            if len(self._buf) < total:
                return out
            raw = bytes(self._buf[:total])
            del self._buf[:total]
            out.append(parse_message(raw, stream=True, max_size=self.max_size))

    @staticmethod
    def _content_length(head: bytes) -> int:
        text = head.decode("utf-8", "surrogateescape")
        for line in _unfold(text.rstrip("\r\n")):
            name, colon, value = line.partition(":")
            if colon and canonical_name(name.strip()) == "Content-Length":
                return parse_uint(value, what="Content-Length", limit=MAX_MESSAGE_SIZE)
        raise SipParseError("Content-Length is required on stream transports")
