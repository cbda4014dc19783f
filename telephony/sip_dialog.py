"""Dialogs (RFC 3261 §12): identity, route set, CSeq, and in-dialog request construction.

A proxy or load balancer in the path (Kamailio's dispatcher) inserts Record-Route; the UAS
copies it into its 2xx and must then send BYE and re-INVITE through the same route set, else
the proxy answers 404 (see the field notes). `Dialog.request` builds such requests, loose or
strict routing, and says where to send them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import secrets

from .sip_headers import SipUri, parse_name_addr, parse_uri
from .sip_message import SipRequest, SipResponse


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(10)}@{host}"


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str  # our From/To value without tag, e.g. "<sip:ivr@host>"
    remote_uri: str
    remote_target: str  # the peer's Contact URI
    route_set: list[str] = field(default_factory=list)  # name-addr strings, in the order to visit
    local_cseq: int = 0
    remote_cseq: int | None = None

    @property
    def id(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def as_uas(cls, invite: SipRequest, local_tag: str) -> "Dialog":
        contact = invite.contact
        frm, to = invite.from_, invite.to
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=frm.tag or "",
            local_uri=_no_tag(str(to)),
            remote_uri=_no_tag(str(frm)),
            remote_target=str(contact.uri) if contact else str(frm.uri),
            route_set=[str(r) for r in invite.route_list("Record-Route")],
            local_cseq=secrets.randbelow(10000) + 1,
            remote_cseq=invite.cseq.number,
        )

    @classmethod
    def as_uac(cls, invite: SipRequest, response: SipResponse) -> "Dialog":
        contact = response.contact
        return cls(
            call_id=invite.call_id,
            local_tag=invite.from_.tag or "",
            remote_tag=response.to.tag or "",
            local_uri=_no_tag(invite.headers.get("From") or ""),
            remote_uri=_no_tag(invite.headers.get("To") or ""),
            remote_target=str(contact.uri) if contact else invite.uri,
            route_set=[str(r) for r in reversed(response.route_list("Record-Route"))],
            local_cseq=invite.cseq.number,
        )

    def accepts_cseq(self, req: SipRequest) -> bool:
        """RFC 3261 §12.2.2: a lower CSeq than the last in-dialog request is out of order (500)."""
        n = req.cseq.number
        if req.method in ("ACK", "CANCEL"):
            return True
        if self.remote_cseq is not None and n < self.remote_cseq:
            return False
        self.remote_cseq = n
        return True

    def request(self, method: str, via: str, contact: str, body: bytes = b"", content_type: str | None = None,
                cseq: int | None = None, extra: list[tuple[str, str]] = ()) -> tuple[SipRequest, SipUri]:
        """An in-dialog request and the URI of its next hop (RFC 3261 §12.2.1.1)."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        routes = [parse_name_addr(r) for r in self.route_set]
        target = parse_uri(self.remote_target)
        if not routes:
            ruri, route_headers, next_hop = target, [], target
        elif "lr" in routes[0].uri.params:
            ruri, route_headers, next_hop = target, [str(r) for r in routes], routes[0].uri
        else:  # strict router: it becomes the Request-URI; the remote target goes last
            first = routes[0].uri
            ruri = SipUri(first.scheme, first.user, first.password, first.host, first.port,
                          {k: v for k, v in first.params.items() if k not in ("method", "maddr", "ttl", "transport", "lr")})
            route_headers = [str(r) for r in routes[1:]] + [f"<{target}>"]
            next_hop = first
        req = SipRequest(method, ruri)
        h = req.headers
        h.add("Via", via)
        h.add("Max-Forwards", 70)
        h.add("From", f"{self.local_uri};tag={self.local_tag}")
        h.add("To", f"{self.remote_uri};tag={self.remote_tag}" if self.remote_tag else self.remote_uri)
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        for r in route_headers:
            h.add("Route", r)
        if method not in ("ACK", "CANCEL", "BYE"):
            h.add("Contact", contact)
        for name, value in extra:
            h.add(name, value)
        if body:
            h.add("Content-Type", content_type or "application/sdp")
        req.body = body
        return req, next_hop


def _no_tag(addr: str) -> str:
    na = parse_name_addr(addr)
    na.params.pop("tag", None)
    return str(na)
