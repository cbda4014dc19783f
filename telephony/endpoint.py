"""The SIP user agent: answers calls (UAS), places calls (UAC), and hands each answered call to
the application as a `Call`.

Inbound: INVITE → 100 Trying → 180 Ringing → (answer_delay) → 200 OK with the SDP answer,
retransmitted until ACK. CANCEL before the answer gets the INVITE a 487. BYE, OPTIONS, INFO
(DTMF) and re-INVITE (hold/unhold) are served in the dialog. A source outside `allow` gets 403,
an offer without PCMU/PCMA 488, an unknown method 501, a malformed request 400 when a response
can be addressed at all; nothing a peer sends can raise out of the datagram handler, and every
transaction removes itself from the tables when its timers run out.

With `tls` (an `ssl.SSLContext` holding the certificate), SIP over TLS is served on `tls_port` as
well (Via `SIP/2.0/TLS`, Contact `;transport=tls`); calls out to `;transport=tls` or `sips:` URIs
go over TLS, verified with `tls_client`.

New INVITEs are rate-limited per source address when `invite_limit` (a `SourceLimiter`) is
given: excess INVITEs get 503 with Retry-After, a source that keeps flooding is ignored; the
addresses in `limit_exempt` (the Kamailio in front, which limits per source itself) are not
counted.

REGISTER goes to the optional `DigestRegistrar` (digest-authenticated bindings, reported to the
application's `on_register`); without one it is answered 405.

`on_call(call)` runs as its own task; when it returns (or raises) a still-live call is hung
up, so a finished pipeline never leaves a caller listening to silence.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import hashlib
import hmac
import ipaddress
import logging
import secrets
import ssl
import time
from typing import Awaitable, Callable, Iterable

from .call import Call
from .dtmf import parse_info_body
from .media import RtpSession, bind_rtp_pair
from .sdp import SUPPORTED, MediaParams, SdpError, SessionDescription, accept_answer, build_answer, build_offer, negotiate, parse_sdp
from .sip_dialog import Dialog, new_branch, new_call_id, new_tag
from .sip_errors import SipParseError
from .sip_headers import host_to_ip, parse_name_addr, parse_uri, split_header_list, parse_via, quote
from .ratelimit import SourceLimiter, Verdict
from .transfer import (
    SIPFRAG, ReferTarget, Replaces, event_id, parse_refer_to, parse_replaces, parse_sipfrag, refer_to_value, sipfrag,
    subscription_state,
)
from .sip_message import SipRequest, SipResponse, canonical_name, missing_mandatory, parse_message, _unfold
from .sip_transaction import (
    ClientTransaction, InviteClientTransaction, InviteServerTransaction, ServerTransaction, State, Timers,
    client_key, server_key,
)
from .sip_transport import STREAM, SipTransport, Source

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY"
SUPPORTED_EXT = "replaces"
KNOWN_UNSUPPORTED = {"REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE", "UPDATE", "PRACK"}


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


@dataclass
class _ReferSub:
    """The implicit subscription a REFER we sent created (RFC 3515 §2.4.4)."""

    progress: list[int] = field(default_factory=list)
    final: asyncio.Future | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class CallFailed(Exception):
    """An outbound INVITE ended without a call: `status` is the final response (408 on timeout)."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(f"{status} {reason}".strip())
        self.status = status
        self.reason = reason


@dataclass
class _Leg:
    """Everything the endpoint keeps for one dialog."""

    dialog: Dialog
    source: Source
    invite: SipRequest
    invite_tx: InviteServerTransaction | InviteClientTransaction | None = None
    media: RtpSession | None = None
    params: MediaParams | None = None
    call: Call | None = None
    answered: bool = False
    ended: bool = False
    awaiting_ack_sdp: bool = False
    replaces: "_Leg | None" = None  # an incoming INVITE with Replaces: the leg it takes over
    refer_subs: dict = field(default_factory=dict)  # CSeq of a REFER we sent → _ReferSub
    transferred: bool = False  # a REFER we sent reported success
    being_replaced: bool = False  # we asked a transferee to INVITE-with-Replaces this leg's peer
    session_id: int = field(default_factory=lambda: secrets.randbelow(2**31))
    sdp_version: int = 1
    tasks: set = field(default_factory=set)


class SipEndpoint:
    def __init__(
        self,
        host: str,
        port: int,
        on_call: Callable[[Call], Awaitable[None]],
        *,
        allow: list[str] | None = None,
        advertise: str | None = None,
        media_host: str | None = None,
        rtp_ports: tuple[int, int] = (20000, 30000),
        codecs: tuple[str, ...] = SUPPORTED,
        timers: Timers = Timers(),
        rtp_timeout: float = 30.0,
        answer_delay: float = 0.05,
        jitter_ms: float = 20.0,
        max_calls: int = 200,
        tcp: bool = True,
        user: str = "ivr",
        user_agent: str = "ivr-triage",
        hangup_wait: float = 4.0,
        on_refer: Callable[[Call, str], bool] | None = None,
        on_transfer: Callable[[Call, Call], Awaitable[None]] | None = None,
        refer_ring_timeout: float = 30.0,
        registrar: "DigestRegistrar | None" = None,
        invite_limit: SourceLimiter | None = None,
        limit_exempt: list[str] | None = None,
        tls: ssl.SSLContext | None = None,
        tls_port: int = 0,
        tls_host: str | None = None,
        tls_client: ssl.SSLContext | None = None,
        admit: Callable[[], bool] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.on_call = on_call
        self.allow = [ipaddress.ip_network(a, strict=False) for a in allow] if allow is not None else None
        self.advertise = advertise or (host if host not in ("0.0.0.0", "::") else "127.0.0.1")
        self.media_host = media_host or self.advertise
        self.rtp_bind = host
        self.rtp_ports = rtp_ports
        self.codecs = codecs
        self.timers = timers
        self.rtp_timeout = rtp_timeout
        self.answer_delay = answer_delay
        self.jitter_ms = jitter_ms
        self.max_calls = max_calls
        self.user = user
        self.user_agent = user_agent
        self.hangup_wait = hangup_wait
        # A REFER we receive: `on_refer(call, target_uri)` may veto it (False → 603); the new call
        # runs `on_transfer(old_call, new_call)` if given, else `on_call(new_call)`.
        self.on_refer = on_refer
        self.on_transfer = on_transfer
        self.refer_ring_timeout = refer_ring_timeout
        # Out-of-dialog REGISTER goes to the registrar (digest-authenticated bindings); without one
        # the endpoint answers REGISTER 405 as before.
        self.registrar = registrar
        self.invite_limit = invite_limit
        # `admit()` False: the application is overloaded; new calls get 503 (a balancer fails over).
        self.admit = admit
        self.calls_refused = 0
        self.limit_exempt = [ipaddress.ip_network(a, strict=False) for a in (limit_exempt or [])]
        # SIP over TLS (optional): `tls` is the server context (certificate and key) for a listener
        # on `tls_port`; `tls_client` verifies the far end for calls out to `;transport=tls` URIs.
        self.tls_client = tls_client
        self.transport = SipTransport(host, port, self._on_datagram, self._on_message, tcp=tcp, tls=tls,
                                      tls_host=tls_host, tls_port=tls_port)
        self.server_tx: dict[tuple, ServerTransaction] = {}
        self.client_tx: dict[tuple, ClientTransaction] = {}
        self.legs: dict[tuple[str, str], _Leg] = {}
        self._pending: dict[tuple, _Leg] = {}  # INVITE server-transaction key → unanswered leg
        self._tasks: set[asyncio.Task] = set()
        self.calls_answered = 0

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.transport.start()
        self.port = self.transport.port

    async def stop(self) -> None:
        """Hang up every live call (BYE), then close the sockets."""
        live = [leg for leg in self.legs.values() if leg.answered and not leg.ended]
        if live:
            await asyncio.gather(*(self._end(leg, "shutdown", send_bye=True) for leg in live), return_exceptions=True)
        for leg in list(self.legs.values()):
            await self._end(leg, "shutdown", send_bye=False)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for tx in list(self.server_tx.values()) + list(self.client_tx.values()):
            tx.terminate()
        await self.transport.stop()

    def stats(self) -> dict[str, int]:
        """What the endpoint holds now (a leak shows as numbers that do not return to zero)."""
        options = sum(1 for key in self.server_tx if key and key[-1] == "OPTIONS")
        return {"legs": len(self.legs), "calls": len(self.calls), "server_transactions": len(self.server_tx),
                "server_transactions_options": options,  # health probes: each lingers 32 s (Timer J)
                "client_transactions": len(self.client_tx), "tasks": len(self._tasks),
                "calls_answered": self.calls_answered, "calls_refused": self.calls_refused,
                "invites_rejected": self.invite_limit.rejected if self.invite_limit else 0,
                "invites_dropped": self.invite_limit.dropped if self.invite_limit else 0}

    @property
    def calls(self) -> list[Call]:
        return [leg.call for leg in self.legs.values() if leg.call is not None and not leg.ended]

    def _spawn(self, coro: Awaitable, leg: _Leg | None = None) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if leg is not None:
            leg.tasks.add(task)
            task.add_done_callback(leg.tasks.discard)
        return task

    # ---- addressing ---------------------------------------------------------------------------
    @property
    def tls_port(self) -> int | None:
        return self.transport.tls_port if self.transport.tls is not None else None

    def _port_for(self, transport: str) -> int:
        return self.transport.tls_port if transport == "TLS" and self.transport.tls is not None else self.port

    def contact(self, transport: str = "UDP") -> str:
        suffix = {"TCP": ";transport=tcp", "TLS": ";transport=tls"}.get(transport, "")
        return f"<sip:{self.user}@{_uri_host(self.advertise)}:{self._port_for(transport)}{suffix}>"

    def _via(self, transport: str = "UDP") -> str:
        return f"SIP/2.0/{transport} {_uri_host(self.advertise)}:{self._port_for(transport)};branch={new_branch()};rport"

    def _reply_sender(self, req: SipRequest, source: Source) -> Callable[[bytes], None]:
        """Where responses go: back down the TCP connection, or per Via received/rport (RFC 3581)."""
        if source.transport in STREAM:
            return lambda data: self.transport.send(data, source.addr, source.transport, source.conn)
        via = req.top_via
        host = via.params.get("received") or host_to_ip(via.host)
        rport = via.params.get("rport")
        port = int(rport) if rport and rport.isdigit() else (via.port or 5060)
        return lambda data: self.transport.send(data, (host_to_ip(host), port))

    def _request_sender(self, leg: _Leg, next_hop) -> tuple[Callable[[bytes], None], bool]:
        if leg.source.transport in STREAM and leg.source.conn is not None and not leg.source.conn.closed:
            conn, name = leg.source.conn, leg.source.transport
            return (lambda data: self.transport.send(data, conn.addr, name, conn)), True
        host, port = next_hop.address()
        try:
            ipaddress.ip_address(host)
        except ValueError:  # a hostname we would have to resolve: use where the peer spoke from
            host, port = leg.source.addr
        return (lambda data: self.transport.send(data, (host, port))), False

    def _exempt(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.limit_exempt)

    def _allowed(self, ip: str) -> bool:
        if self.allow is None:
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.allow)

    # ---- inbound --------------------------------------------------------------------------------
    def _on_datagram(self, data: bytes, source: Source) -> None:
        if not data.strip(b"\r\n\x00 "):
            return  # keep-alive
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            self._reject_unparseable(data, exc, source)
            return
        self._on_message(msg, source)

    def _on_message(self, msg, source: Source) -> None:
        try:
            if isinstance(msg, SipResponse):
                self._on_response(msg)
            else:
                self._on_request(msg, source)
        except SipParseError as exc:
            log.info("dropping message from %s: %s", source.addr, exc)

    def _reject_unparseable(self, data: bytes, exc: SipParseError, source: Source) -> None:
        """Answer 400/505 to a request we could not parse, if it names who to answer."""
        try:
            head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
            lines = _unfold(head.lstrip("\r\n"))
            if not lines or lines[0].startswith("SIP/") or lines[0].split(" ", 1)[0] == "ACK":
                return
            fields: dict[str, list[str]] = {}
            for line in lines[1:]:
                name, colon, value = line.partition(":")
                if colon:
                    fields.setdefault(canonical_name(name.strip()), []).append(value.strip())
            if not all(k in fields for k in ("Via", "From", "To", "Call-ID", "CSeq")):
                return
            resp = SipResponse(exc.status)
            for via in fields["Via"]:
                resp.headers.add("Via", via)
            for name in ("From", "To", "Call-ID", "CSeq"):
                resp.headers.add(name, fields[name][0])
            resp.headers.add("Server", self.user_agent)
            self.transport.send(resp.serialize(), source.addr, source.transport, source.conn)
            log.info("answered %d to malformed request from %s: %s", exc.status, source.addr, exc.reason)
        except Exception as err:  # best effort only
            log.debug("could not answer malformed request: %s", err)

    def _fix_via(self, req: SipRequest, source: Source) -> None:
        """RFC 3261 §18.2.1 received and RFC 3581 rport on the top Via."""
        first_line = req.headers.get("Via")
        if first_line is None:
            raise SipParseError("missing Via")
        parts = split_header_list(first_line)
        via = parse_via(parts[0])
        ip, port = source.addr
        if host_to_ip(via.host) != ip:
            via.params["received"] = ip
        if "rport" in via.params:
            via.params["rport"] = str(port)
            via.params["received"] = ip
        req.headers.replace_first("Via", ", ".join([str(via)] + parts[1:]))

    def response(self, req: SipRequest, status: int, reason: str = "", to_tag: str | None = None,
                 extra: Iterable[tuple[str, str]] = (), body: bytes = b"", content_type: str | None = None) -> SipResponse:
        resp = SipResponse(status, reason)
        h = resp.headers
        for via in req.headers.get_all("Via"):
            h.add("Via", via)
        for name in ("From", "To", "Call-ID", "CSeq"):
            value = req.headers.get(name)
            if value is not None:
                if name == "To" and to_tag and "tag" not in _params_of(value) and status != 100:
                    value = f"{value};tag={to_tag}"
                h.add(name, value)
        if 100 < status < 300 and req.method == "INVITE":
            for rr in req.headers.get_all("Record-Route"):
                h.add("Record-Route", rr)
        h.add("Server", self.user_agent)
        for name, value in extra:
            h.add(name, value)
        if body:
            h.add("Content-Type", content_type or "application/sdp")
        resp.body = body
        return resp

    def _on_request(self, req: SipRequest, source: Source) -> None:
        if missing_mandatory(req):
            if "Via" in req.headers and req.method != "ACK":
                self._reply_sender(req, source)(self.response(req, 400, "Missing Mandatory Header").serialize())
            return
        self._fix_via(req, source)
        key = server_key(req)
        if req.method == "ACK":
            tx = self.server_tx.get(key)
            if isinstance(tx, InviteServerTransaction) and tx.state in (State.COMPLETED, State.CONFIRMED):
                tx.receive_ack(req)
                return
            leg = self.legs.get((req.call_id, req.to.tag or ""))
            if leg is not None:
                self._on_ack(leg, req)
            return
        tx = self.server_tx.get(key)
        if tx is not None:
            tx.receive_retransmission(req)
            return
        limited = False
        if req.method == "INVITE" and not req.to.tag and self.invite_limit is not None and not self._exempt(source.addr[0]):
            verdict = self.invite_limit.check(source.addr[0])
            if verdict is Verdict.DROP:
                return  # a flood: no transaction, no reply
            limited = verdict is Verdict.REJECT
        send = self._reply_sender(req, source)
        reliable = source.transport in STREAM
        cls = InviteServerTransaction if req.method == "INVITE" else ServerTransaction
        tx = cls(req, send, self.timers, reliable, on_terminated=lambda t, k=key: self._server_tx_done(k, t))
        self.server_tx[key] = tx
        if limited:
            log.info("503 for INVITE from %s: over the rate limit", source.addr[0])
            tx.respond(self.response(req, 503, "Rate Limited", extra=[("Retry-After", str(self.invite_limit.retry_after()))]))
            return
        try:
            self._dispatch(req, tx, source, key)
        except (SipParseError, SdpError) as exc:
            log.info("bad request %s from %s: %s", req.method, source.addr, exc)
            tx.respond(self.response(req, 400))
        except Exception:
            log.exception("error handling %s", req.method)
            tx.respond(self.response(req, 500))

    def _server_tx_done(self, key: tuple, tx: ServerTransaction) -> None:
        if self.server_tx.get(key) is tx:
            del self.server_tx[key]
        self._pending.pop(key, None)

    def _dispatch(self, req: SipRequest, tx: ServerTransaction, source: Source, key: tuple) -> None:
        method = req.method
        if req.request_uri.scheme not in ("sip", "sips"):
            tx.respond(self.response(req, 416))
            return
        if method == "CANCEL":
            self._on_cancel(req, tx, key)
            return
        required = [r for r in req.headers.values("Require") if r.lower() not in SUPPORTED_EXT.split(", ")]
        if required:
            tx.respond(self.response(req, 420, extra=[("Unsupported", ", ".join(required))]))
            return
        to_tag = req.to.tag
        if to_tag:
            leg = self.legs.get((req.call_id, to_tag))
            if leg is None or leg.ended:
                tx.respond(self.response(req, 481))
                return
            if not leg.dialog.accepts_cseq(req):
                tx.respond(self.response(req, 500, "Out Of Order CSeq"))
                return
            if method == "BYE":
                self._on_bye(leg, req, tx)
            elif method == "INVITE":
                self._on_reinvite(leg, req, tx)
            elif method == "INFO":
                self._on_info(leg, req, tx)
            elif method == "REFER":
                self._on_refer(leg, req, tx)
            elif method == "NOTIFY":
                self._on_notify(leg, req, tx)
            elif method == "OPTIONS":
                tx.respond(self._options_response(req))
            elif method in KNOWN_UNSUPPORTED:
                tx.respond(self.response(req, 405, extra=[("Allow", ALLOW)]))
            else:
                tx.respond(self.response(req, 501, extra=[("Allow", ALLOW)]))
            return
        if method == "INVITE":
            self._on_invite(req, tx, source, key)
        elif method == "OPTIONS":
            tx.respond(self._options_response(req))
        elif method in ("BYE", "INFO", "NOTIFY"):
            tx.respond(self.response(req, 481))
        elif method == "REFER":  # out-of-dialog REFER (RFC 3515 allows it): not taken from strangers
            tx.respond(self.response(req, 403))
        elif method == "REGISTER" and self.registrar is not None:
            self._on_register(req, tx, source)
        elif method in KNOWN_UNSUPPORTED:
            tx.respond(self.response(req, 405, extra=[("Allow", ALLOW)]))
        else:
            tx.respond(self.response(req, 501, extra=[("Allow", ALLOW)]))

    def _on_register(self, req: SipRequest, tx: ServerTransaction, source: Source) -> None:
        if not self._allowed(source.addr[0]):
            tx.respond(self.response(req, 403))
            return
        status, reason, extra = self.registrar.handle(req, source)
        tx.respond(self.response(req, status, reason, to_tag=new_tag(), extra=extra))

    def _options_response(self, req: SipRequest) -> SipResponse:
        return self.response(req, 200, extra=[("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", SUPPORTED_EXT),
                                               ("Contact", self.contact())])

    # ---- INVITE (UAS) -----------------------------------------------------------------------------
    def _take_offer(self, req: SipRequest, tx: InviteServerTransaction):
        """The SDP offer of an INVITE or re-INVITE and what we make of it; None once refused (415/488)."""
        if req.content_type != "application/sdp":
            tx.respond(self.response(req, 415, extra=[("Accept", "application/sdp")]))
            return None
        offer = parse_sdp(req.body)
        params = negotiate(offer, self.codecs)
        if params is None:
            tx.respond(self.response(req, 488, extra=[("Warning", f'305 {self.advertise} "Incompatible media format"')]))
            return None
        return offer, params

    def _on_invite(self, req: SipRequest, tx: InviteServerTransaction, source: Source, key: tuple) -> None:
        if not self._allowed(source.addr[0]):
            log.info("403 for INVITE from %s", source.addr[0])
            tx.respond(self.response(req, 403))
            return
        if len([leg for leg in self.legs.values() if not leg.ended]) >= self.max_calls or (
                self.admit is not None and not self.admit()):
            self.calls_refused += 1
            tx.respond(self.response(req, 503, extra=[("Retry-After", "5")]))
            return
        params = offer = None
        if req.body:
            negotiated = self._take_offer(req, tx)
            if negotiated is None:
                return
            offer, params = negotiated
        replaced = None
        if "Replaces" in req.headers:
            replaced = self._match_replaces(req, tx)
            if replaced is None:
                return
        tx.respond(self.response(req, 100))
        dialog = Dialog.as_uas(req, new_tag())
        leg = _Leg(dialog, source, req, tx, params=params, replaces=replaced)
        self.legs[(dialog.call_id, dialog.local_tag)] = leg
        self._pending[key] = leg
        tx.on_no_ack = lambda: self._spawn(self._end(leg, "ack_timeout", send_bye=True))
        tx.on_timeout = lambda: self._spawn(self._end(leg, "timeout", send_bye=False))
        self._spawn(self._answer(leg, offer), leg)

    async def _answer(self, leg: _Leg, offer: SessionDescription | None) -> None:
        tx = leg.invite_tx
        req = leg.invite
        tag = leg.dialog.local_tag
        try:
            try:
                rtp, rtcp, port = await bind_rtp_pair(self.rtp_bind, self.rtp_ports)
            except OSError:
                log.exception("no RTP port")
                tx.respond(self.response(req, 503, to_tag=tag))
                await self._end(leg, "error", send_bye=False)
                return
            leg.media = RtpSession(rtp, rtcp, port, rtp_timeout=self.rtp_timeout, jitter_ms=self.jitter_ms)
            if tx.state is not State.PROCEEDING:
                await self._end(leg, "cancel", send_bye=False)
                return
            contact = [("Contact", self.contact(leg.source.transport))]
            if leg.replaces is None:  # a replacing INVITE is answered at once, without alerting (RFC 3891)
                tx.respond(self.response(req, 180, to_tag=tag, extra=contact))
                if self.answer_delay:
                    await asyncio.sleep(self.answer_delay)
            if tx.state is not State.PROCEEDING:
                await self._end(leg, "cancel", send_bye=False)
                return
            sd = self._local_sdp(leg, offer)
            tx.respond(self.response(req, 200, to_tag=tag, extra=contact + [("Allow", ALLOW), ("Supported", SUPPORTED_EXT)],
                                     body=sd.serialize()))
            leg.answered = True
            self.calls_answered += 1
            frm = req.from_
            headers = {name: value for name, value in reversed(list(req.headers))}
            call = Call(req.call_id, str(frm.uri), leg.params.codec if leg.params else self.codecs[0], leg.media,
                        leg.dialog, self._hangup_call, local_uri=str(req.to.uri), headers=headers)
            call._endpoint = self
            leg.call = call
            self._wire_media(leg)
            if leg.replaces is not None:
                old = leg.replaces
                call.replaced = old.call
                self._spawn(self._end(old, "replaced", send_bye=True))
            self._spawn(self._run_app(leg), leg)
        except asyncio.CancelledError:
            await self._end(leg, "cancel", send_bye=False)
            raise

    def _local_sdp(self, leg: _Leg, offer: SessionDescription | None) -> SessionDescription:
        leg.sdp_version += 1
        if offer is not None and leg.params is not None:
            leg.media.configure(leg.params)
            return build_answer(offer, leg.params, self.media_host, leg.media.local_port, leg.session_id, leg.sdp_version)
        leg.awaiting_ack_sdp = True  # delayed offer: we offer in the 2xx, the answer comes in ACK
        return build_offer(self.media_host, leg.media.local_port, leg.session_id, leg.sdp_version, self.codecs)

    def _wire_media(self, leg: _Leg) -> None:
        call, media = leg.call, leg.media
        media.on_dtmf = call.dtmf.put_nowait
        media.on_timeout = lambda: self._spawn(self._end(leg, "rtp_timeout", send_bye=True))
        media.start()

    async def _run_app(self, leg: _Leg, handler: Callable[[Call], Awaitable[None]] | None = None) -> None:
        call = leg.call
        try:
            await (handler or self.on_call)(call)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("on_call failed for %s", call.call_id)
        finally:
            if not leg.ended:
                self._spawn(self._end(leg, "local_bye", send_bye=True))

    def _on_ack(self, leg: _Leg, ack: SipRequest) -> None:
        if isinstance(leg.invite_tx, InviteServerTransaction):
            leg.invite_tx.ack_received()
        if leg.awaiting_ack_sdp and ack.body:
            leg.awaiting_ack_sdp = False
            try:
                params = accept_answer(parse_sdp(ack.body), self.codecs)
            except SdpError:
                params = None
            if params is None:
                self._spawn(self._end(leg, "media_failed", send_bye=True))
                return
            leg.params = params
            leg.media.configure(params)
            if leg.call:
                leg.call.codec = params.codec

    def _on_cancel(self, req: SipRequest, tx: ServerTransaction, key: tuple) -> None:
        invite_key = (key[0], key[1], "INVITE")
        leg = self._pending.get(invite_key)
        invite_tx = self.server_tx.get(invite_key)
        if invite_tx is None:
            tx.respond(self.response(req, 481))
            return
        tx.respond(self.response(req, 200))
        if isinstance(invite_tx, InviteServerTransaction) and invite_tx.state is State.PROCEEDING:
            tag = leg.dialog.local_tag if leg else new_tag()
            invite_tx.respond(self.response(invite_tx.request, 487, to_tag=tag))
            if leg is not None:
                for task in list(leg.tasks):
                    task.cancel()
                self._spawn(self._end(leg, "cancel", send_bye=False))

    def _on_bye(self, leg: _Leg, req: SipRequest, tx: ServerTransaction) -> None:
        tx.respond(self.response(req, 200))
        invite_tx = leg.invite_tx
        if isinstance(invite_tx, InviteServerTransaction) and invite_tx.state is State.PROCEEDING:
            invite_tx.respond(self.response(invite_tx.request, 487, to_tag=leg.dialog.local_tag))
        reason = "transferred" if leg.transferred else "replaced" if leg.being_replaced else "remote_bye"
        self._spawn(self._end(leg, reason, send_bye=False))

    def _on_info(self, leg: _Leg, req: SipRequest, tx: ServerTransaction) -> None:
        if not req.body:
            tx.respond(self.response(req, 200))
            return
        digit = parse_info_body(req.content_type, req.body)
        if digit is None:
            tx.respond(self.response(req, 415, extra=[("Accept", "application/dtmf-relay, application/dtmf")]))
            return
        if leg.call is not None:
            leg.call.dtmf.put_nowait(digit)
        tx.respond(self.response(req, 200))

    def _on_reinvite(self, leg: _Leg, req: SipRequest, tx: InviteServerTransaction) -> None:
        if not leg.answered or leg.media is None:
            tx.respond(self.response(req, 491))
            return
        if isinstance(leg.invite_tx, InviteServerTransaction) and leg.invite_tx.state is State.PROCEEDING:
            tx.respond(self.response(req, 500, extra=[("Retry-After", "1")]))
            return
        offer = None
        if req.body:
            negotiated = self._take_offer(req, tx)
            if negotiated is None:
                return
            offer, params = negotiated
            leg.params = params
            if leg.call:
                leg.call.on_hold = params.direction in ("recvonly", "inactive")
                leg.call.codec = params.codec
        contact = self.contact(leg.source.transport)
        if req.contact is not None:
            leg.dialog.remote_target = str(req.contact.uri)
        leg.invite_tx = tx
        tx.on_no_ack = lambda: self._spawn(self._end(leg, "ack_timeout", send_bye=True))
        sd = self._local_sdp(leg, offer)
        tx.respond(self.response(req, 200, extra=[("Contact", contact), ("Allow", ALLOW)], body=sd.serialize()))

    # ---- transfer: Replaces, REFER, NOTIFY ----------------------------------------------------------
    def _match_replaces(self, req: SipRequest, tx: InviteServerTransaction) -> _Leg | None:
        """RFC 3891 §3: the dialog an INVITE with Replaces takes over; answers 481/486/400 if none."""
        try:
            rep = parse_replaces(req.headers.get("Replaces") or "")
        except SipParseError:
            tx.respond(self.response(req, 400, "Bad Replaces"))
            return None
        leg = self.legs.get((rep.call_id, rep.to_tag))
        if leg is None or leg.ended or leg.dialog.remote_tag != rep.from_tag or not leg.answered:
            tx.respond(self.response(req, 481))
            return None
        if rep.early_only:
            tx.respond(self.response(req, 486))
            return None
        return leg

    def _on_refer(self, leg: _Leg, req: SipRequest, tx: ServerTransaction) -> None:
        """We are the transferee: 202, then INVITE the Refer-To target and report with NOTIFY."""
        values = req.headers.values("Refer-To")
        if len(values) != 1:
            tx.respond(self.response(req, 400, "Bad Refer-To"))
            return
        try:
            target = parse_refer_to(values[0])
            uri = parse_uri(target.uri)
            ipaddress.ip_address(uri.address()[0])
        except (SipParseError, ValueError):
            tx.respond(self.response(req, 400, "Bad Refer-To"))
            return
        if not leg.answered or leg.call is None or uri.scheme != "sip":
            tx.respond(self.response(req, 603 if uri.scheme != "sip" else 491))
            return
        if self.on_refer is not None and not self.on_refer(leg.call, target.uri):
            tx.respond(self.response(req, 603))
            return
        if req.contact is not None:
            leg.dialog.remote_target = str(req.contact.uri)
        tx.respond(self.response(req, 202, extra=[("Contact", self.contact(leg.source.transport))]))
        self._spawn(self._run_refer(leg, target, req.cseq.number, req.headers.get("Referred-By")), leg)

    async def _notify(self, leg: _Leg, sub_id: int, status: int, reason: str, final: bool) -> None:
        state = "terminated;reason=noresource" if final else "active;expires=60"
        try:
            await asyncio.wait_for(self.request_in_dialog(
                leg, "NOTIFY", sipfrag(status, reason), SIPFRAG,
                extra=[("Event", f"refer;id={sub_id}"), ("Subscription-State", state)]), self.hangup_wait)
        except (asyncio.TimeoutError, ConnectionError, OSError) as exc:
            log.info("NOTIFY for %s got no answer: %s", leg.dialog.call_id, exc)

    async def _run_refer(self, leg: _Leg, target: ReferTarget, sub_id: int, referred_by: str | None) -> None:
        await self._notify(leg, sub_id, 100, "Trying", final=False)
        extra: list[tuple[str, str]] = []
        if target.replaces:
            extra.append(("Replaces", target.replaces))
        if referred_by:
            extra.append(("Referred-By", referred_by))
        old = leg.call
        handler = None
        if self.on_transfer is not None:
            on_transfer = self.on_transfer
            handler = lambda new: on_transfer(old, new)  # noqa: E731
        try:
            new = await self.invite(target.uri, headers=extra, ring_timeout=self.refer_ring_timeout,
                                    on_call=handler or self.on_call)
        except CallFailed as exc:
            await self._notify(leg, sub_id, exc.status, exc.reason or "Failed", final=True)
            return
        except (OSError, ValueError, SipParseError) as exc:
            log.info("REFER target %s unreachable: %s", target.uri, exc)
            await self._notify(leg, sub_id, 503, "Service Unavailable", final=True)
            return
        old.transferred_to = new
        leg.transferred = True
        await self._notify(leg, sub_id, 200, "OK", final=True)
        if not leg.ended:
            await self._end(leg, "transferred", send_bye=True)

    def _on_notify(self, leg: _Leg, req: SipRequest, tx: ServerTransaction) -> None:
        """Progress of a REFER we sent (message/sipfrag in NOTIFY, RFC 3515 §2.4.5)."""
        event, sub = event_id(req.headers.get("Event"))
        if event != "refer":
            tx.respond(self.response(req, 489, "Bad Event", extra=[("Allow-Events", "refer")]))
            return
        refer = leg.refer_subs.get(int(sub)) if sub and sub.isdigit() else None
        if refer is None and leg.refer_subs:
            refer = leg.refer_subs[max(leg.refer_subs)]  # no id: the latest REFER
        if refer is None:
            tx.respond(self.response(req, 481, "Subscription Does Not Exist"))
            return
        tx.respond(self.response(req, 200))
        frag = parse_sipfrag(req.body) if req.body else None
        if frag is not None:
            refer.progress.append(frag[0])
            if 200 <= frag[0] < 300:
                leg.transferred = True
        done = frag is not None and frag[0] >= 200
        if (done or subscription_state(req.headers.get("Subscription-State")) == "terminated") and not refer.final.done():
            refer.final.set_result(frag or (0, ""))
        refer.changed.set()

    async def refer(self, call: Call, target: str | Call, *, replaces: Call | None = None, timeout: float = 30.0,
                    hangup: bool = True) -> ReferResult:
        """Transfer `call`'s peer (the transferee) elsewhere with REFER; we are the transferor.

        Blind: `target` is a SIP URI. Attended (RFC 5589): pass `replaces=` our call with the
        transfer target (or that Call as `target`); the Refer-To names the target's Contact with
        `?Replaces=` for that dialog, so the target swaps our leg for the transferee. Waits for
        the final NOTIFY; on success, with `hangup`, the transferred leg gets its BYE.
        """
        leg = self._leg_of(call)
        if leg is None or leg.ended or not leg.answered:
            raise CallFailed(481, "Call is not up")
        if isinstance(target, Call):
            replaces, target = target, ""
        rep = None
        if replaces is not None:
            other = self._leg_of(replaces)
            if other is None or other.ended or not other.answered:
                raise CallFailed(481, "The call to replace is not up")
            d = other.dialog
            rep = Replaces(d.call_id, d.remote_tag, d.local_tag)
            target = target or d.remote_target
            other.being_replaced = True
        transport = leg.source.transport if leg.source.transport in STREAM else "UDP"
        req, next_hop = leg.dialog.request(
            "REFER", self._via(transport), self.contact(transport),
            extra=[("Refer-To", refer_to_value(target, rep)), ("Referred-By", f"<{call.local_uri or self.contact()[1:-1]}>")])
        sub = _ReferSub(final=asyncio.get_running_loop().create_future())
        cseq = req.cseq.number
        leg.refer_subs[cseq] = sub
        result = ReferResult(0, progress=sub.progress)
        try:
            resp = await asyncio.wait_for(self._send_request(req, *self._request_sender(leg, next_hop)), timeout)
            if resp is None:
                return result
            result.response = resp.status
            if resp.status >= 300:
                result.status, result.reason = resp.status, resp.reason
                return result
            try:
                result.status, result.reason = await asyncio.wait_for(asyncio.shield(sub.final), timeout)
            except asyncio.TimeoutError:
                return result
        finally:
            leg.refer_subs.pop(cseq, None)
            if replaces is not None and not result.ok:
                other.being_replaced = False
        if result.ok and hangup and not leg.ended:
            await self._end(leg, "transferred", send_bye=True)
        return result

    def _leg_of(self, call: Call) -> _Leg | None:
        return self.legs.get((call.dialog.call_id, call.dialog.local_tag))

    # ---- ending calls ---------------------------------------------------------------------------
    async def _hangup_call(self, call: Call) -> None:
        leg = self.legs.get((call.dialog.call_id, call.dialog.local_tag))
        if leg is not None:
            await self._end(leg, "local_bye", send_bye=True)

    async def _end(self, leg: _Leg, reason: str, send_bye: bool) -> None:
        if leg.ended:
            if leg.call is not None:
                await leg.call.ended.wait()
            return
        leg.ended = True
        if leg.call is not None:
            leg.call.end_reason = reason
        if leg.media is not None:
            await leg.media.close()
        if send_bye and leg.answered:
            try:
                await asyncio.wait_for(self.request_in_dialog(leg, "BYE"), self.hangup_wait)
            except (asyncio.TimeoutError, ConnectionError, OSError) as exc:
                log.info("BYE for %s got no answer: %s", leg.dialog.call_id, exc)
        self.legs.pop((leg.dialog.call_id, leg.dialog.local_tag), None)
        if leg.call is not None:
            leg.call.ended.set()
        log.info("call %s ended: %s", leg.dialog.call_id, reason)

    def request_in_dialog(self, leg: _Leg, method: str, body: bytes = b"", content_type: str | None = None,
                          extra: Iterable[tuple[str, str]] = ()) -> asyncio.Future:
        """Send a request inside a dialog; the future resolves to the final response or None."""
        transport = leg.source.transport if leg.source.transport in STREAM else "UDP"
        req, next_hop = leg.dialog.request(method, self._via(transport), self.contact(transport), body, content_type,
                                           extra=list(extra))
        return self._send_request(req, *self._request_sender(leg, next_hop))

    def _send_request(self, req: SipRequest, send: Callable[[bytes], None], reliable: bool,
                      on_provisional: Callable[[SipResponse], None] | None = None) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()

        def on_response(resp: SipResponse) -> None:
            if resp.status < 200:
                if on_provisional:
                    on_provisional(resp)
            elif not fut.done():
                fut.set_result(resp)

        def on_timeout() -> None:
            if not fut.done():
                fut.set_result(None)

        key = client_key(req)
        cls = InviteClientTransaction if req.method == "INVITE" else ClientTransaction
        tx = cls(req, send, self.timers, reliable, on_response, on_timeout,
                 on_terminated=lambda t, k=key: self.client_tx.pop(k, None) if self.client_tx.get(k) is t else None)
        self.client_tx[key] = tx
        tx.start()
        return fut

    def _on_response(self, resp: SipResponse) -> None:
        try:
            key = client_key(resp)
        except SipParseError:
            return
        tx = self.client_tx.get(key)
        if tx is not None:
            tx.receive_response(resp)
            return
        if resp.cseq.method == "INVITE" and 200 <= resp.status < 300:
            # a retransmitted 2xx after the transaction ended: ACK it again (RFC 3261 §13.2.2.4)
            for leg in self.legs.values():
                if leg.dialog.call_id == resp.call_id and leg.dialog.remote_tag == (resp.to.tag or ""):
                    self._send_ack(leg, resp.cseq.number)

    # ---- outbound calls (UAC) -------------------------------------------------------------------
    async def invite(self, uri: str, *, from_user: str | None = None, display: str | None = None,
                     headers: Iterable[tuple[str, str]] = (), ring_timeout: float = 30.0,
                     credentials: tuple[str, str] | None = None, on_call: Callable[[Call], Awaitable[None]] | None = None,
                     codecs: tuple[str, ...] | None = None) -> Call:
        """Call `uri` (e.g. an agent's phone). Returns the answered Call or raises CallFailed.

        Extra `headers` ride on the INVITE (the hand-off summary). No answer within
        `ring_timeout` → CANCEL and CallFailed(408). A 401/407 is answered once with digest
        credentials. If `on_call` is given it runs like an inbound call's handler.
        """
        target = parse_uri(uri)
        over_tls = target.scheme == "sips" or str(target.params.get("transport") or "").lower() == "tls"
        dest = target.address(5061 if over_tls else 5060)
        ipaddress.ip_address(dest[0])  # the UAC sends to IP literals only (no DNS here)
        conn = None
        if over_tls:
            if self.tls_client is None:
                raise CallFailed(503, "No TLS client context for a TLS target")
            try:
                conn = await self.transport.connect(dest, self.tls_client)
            except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
                raise CallFailed(503, f"TLS connection failed: {type(exc).__name__}") from None
        transport = "TLS" if over_tls else "UDP"
        rtp, rtcp, port = await bind_rtp_pair(self.rtp_bind, self.rtp_ports)
        media = RtpSession(rtp, rtcp, port, rtp_timeout=self.rtp_timeout, jitter_ms=self.jitter_ms)
        session_id = secrets.randbelow(2**31)
        codecs = tuple(codecs or self.codecs)
        offer = build_offer(self.media_host, port, session_id, 1, codecs)
        from_uri = f"sip:{from_user or self.user}@{_uri_host(self.advertise)}:{self.port}"
        from_value = (f"{quote(display)} " if display else "") + f"<{from_uri}>;tag={new_tag()}"
        call_id = new_call_id(self.advertise)
        cseq = 1
        auth_header: tuple[str, str] | None = None
        if conn is not None:
            send = lambda data: self.transport.send(data, dest, "TLS", conn)  # noqa: E731
        else:
            send = lambda data: self.transport.send(data, dest)  # noqa: E731
        try:
            while True:
                req = SipRequest("INVITE", target)
                h = req.headers
                h.add("Via", self._via(transport))
                h.add("Max-Forwards", 70)
                h.add("From", from_value)
                h.add("To", f"<{target}>")
                h.add("Call-ID", call_id)
                h.add("CSeq", f"{cseq} INVITE")
                h.add("Contact", self.contact(transport))
                h.add("Allow", ALLOW)
                h.add("Supported", SUPPORTED_EXT)
                h.add("User-Agent", self.user_agent)
                if auth_header:
                    h.add(*auth_header)
                for name, value in headers:
                    h.add(name, value)
                h.add("Content-Type", "application/sdp")
                req.body = offer.serialize()
                ringing = asyncio.Event()
                fut = self._send_request(req, send, conn is not None, on_provisional=lambda r: ringing.set())
                try:
                    resp = await asyncio.wait_for(asyncio.shield(fut), ring_timeout)
                except asyncio.TimeoutError:
                    await self._cancel_invite(req, send, fut, ringing)
                    raise CallFailed(408, "No Answer") from None
                except asyncio.CancelledError:
                    # The application gave up (the caller hung up while the agent rang): the
                    # agent's phone must stop ringing, so CANCEL goes out before we unwind.
                    await asyncio.shield(self._cancel_invite(req, send, fut, ringing))
                    raise
                if resp is None:
                    raise CallFailed(408, "Request Timeout")
                if resp.status in (401, 407) and credentials and auth_header is None:
                    auth_header = digest_authorization(resp, "INVITE", str(target), *credentials)
                    if auth_header is None:
                        raise CallFailed(resp.status, resp.reason)
                    cseq += 1
                    continue
                if resp.status >= 300:
                    raise CallFailed(resp.status, resp.reason)
                break
        except BaseException:
            await media.close()
            raise
        dialog = Dialog.as_uac(req, resp)
        leg = _Leg(dialog, Source(transport, dest, conn), req, None, media=media, answered=True, session_id=session_id)
        self.legs[(dialog.call_id, dialog.local_tag)] = leg
        self._send_ack(leg, cseq)
        params = None
        try:
            params = accept_answer(parse_sdp(resp.body), codecs) if resp.body else None
        except SdpError:
            params = None
        if params is None:
            await self._end(leg, "media_failed", send_bye=True)
            raise CallFailed(488, "No common codec in answer")
        leg.params = params
        media.configure(params)
        call = Call(call_id, str(resp.to.uri), params.codec, media, dialog, self._hangup_call, direction="outbound",
                    local_uri=from_uri)
        call._endpoint = self
        leg.call = call
        self.calls_answered += 1
        self._wire_media(leg)
        if on_call is not None:
            self._spawn(self._run_app(leg, on_call), leg)
        return call

    async def _cancel_invite(self, invite: SipRequest, send: Callable[[bytes], None], fut: asyncio.Future,
                             ringing: asyncio.Event) -> None:
        """CANCEL a ringing INVITE (RFC 3261 §9.1); only after a provisional response."""
        if not ringing.is_set():
            try:
                await asyncio.wait_for(asyncio.shield(fut), self.timers.b)
            except asyncio.TimeoutError:
                return
            if fut.done():
                return
        cancel = SipRequest("CANCEL", invite.uri)
        for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
            cancel.headers.add(name, invite.headers.get(name))
        cancel.headers.add("CSeq", f"{invite.cseq.number} CANCEL")
        await self._send_request(cancel, send, False)
        try:
            resp = await asyncio.wait_for(asyncio.shield(fut), self.timers.b)
        except asyncio.TimeoutError:
            return
        if resp is not None and resp.status < 300:  # the callee answered as we cancelled: hang up
            dialog = Dialog.as_uac(invite, resp)
            leg = _Leg(dialog, Source("UDP", parse_uri(invite.uri).address()), invite, None, answered=True)
            self._send_ack(leg, invite.cseq.number)
            await asyncio.wait_for(self.request_in_dialog(leg, "BYE"), self.hangup_wait)

    def _send_ack(self, leg: _Leg, cseq: int) -> None:
        transport = leg.source.transport if leg.source.transport in STREAM else "UDP"
        req, next_hop = leg.dialog.request("ACK", self._via(transport), self.contact(transport), cseq=cseq)
        send, _ = self._request_sender(leg, next_hop)
        try:
            send(req.serialize())
        except (ConnectionError, OSError) as exc:
            log.info("ACK not sent: %s", exc)


def _params_of(addr: str) -> str:
    gt = addr.rfind(">")
    return addr[gt + 1 :] if gt >= 0 else addr.partition(";")[2]


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def digest_authorization(resp: SipResponse, method: str, uri: str, username: str, password: str) -> tuple[str, str] | None:
    """Answer a 401/407 digest challenge (RFC 2617 / RFC 7616 with MD5, qop=auth or none)."""
    name = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
    challenge = resp.headers.get(name)
    if not challenge or not challenge.lower().startswith("digest"):
        return None
    params: dict[str, str] = {}
    for part in split_header_list(challenge[6:]):
        k, _, v = part.partition("=")
        v = v.strip()
        params[k.strip().lower()] = v[1:-1] if v.startswith('"') and v.endswith('"') else v
    algorithm = params.get("algorithm", "MD5")
    if algorithm.upper() != "MD5" or "nonce" not in params:
        return None
    realm, nonce = params.get("realm", ""), params["nonce"]
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1 = md5(f"{username}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    fields = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', "algorithm=MD5"]
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
    fields.append(f'response="{response}"')
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    header = "Authorization" if resp.status == 401 else "Proxy-Authorization"
    return header, "Digest " + ", ".join(fields)


# ---- registrar (REGISTER with digest authentication) ---------------------------------------------
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


def parse_digest(value: str) -> dict[str, str] | None:
    """`Digest k=v, k="v", ...` (an Authorization or a challenge) into lower-cased keys; None if not digest."""
    if not value or value[:6].lower() != "digest":
        return None
    params: dict[str, str] = {}
    for part in split_header_list(value[6:]):
        k, eq, v = part.partition("=")
        if not eq:
            continue
        v = v.strip()
        params[k.strip().lower()] = v[1:-1] if len(v) >= 2 and v.startswith('"') and v.endswith('"') else v
    return params


class DigestRegistrar:
    """A registrar for `SipEndpoint(registrar=...)`: MD5 digest (RFC 3261 §22, RFC 2617, qop=auth).

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
        md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
        ha1 = md5(f"{auth.get('username', '')}:{self.realm}:{password}")
        ha2 = md5(f"{method}:{auth.get('uri', '')}")
        qop = auth.get("qop")
        if qop == "auth":
            expected = md5(f"{ha1}:{auth['nonce']}:{auth.get('nc', '')}:{auth.get('cnonce', '')}:auth:{ha2}")
        elif qop is None:
            expected = md5(f"{ha1}:{auth['nonce']}:{ha2}")
        else:
            return False
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
