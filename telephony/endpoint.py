"""The SIP user agent the application holds: answers calls (UAS), places calls (UAC), transfers
them (REFER), serves REGISTER, and hands each answered call over as a `Call`.

This module is the front: it takes what the transport received, parses it, matches it to a
transaction (or makes one) and dispatches by method to the role that serves it — `answering`
(INVITE, ACK, CANCEL, BYE, INFO, re-INVITE), `transfers` (REFER, NOTIFY, Replaces), the
`registrar` (REGISTER), `outbound` (calls we place). The shared plumbing is `UserAgent`.

Nothing a peer sends can raise out of the datagram handler: a malformed request gets 400 when
a response can be addressed at all, an unknown method 501, an unsupported Require 420, and every
transaction removes itself from the tables when its timers run out. New INVITEs are rate-limited
per source when `invite_limit` (a `SourceLimiter`) is given: excess INVITEs get 503 with
Retry-After, a source that keeps flooding is ignored; `admission.limit_exempt` sources (the
Kamailio in front, which limits per source itself) are not counted. Without a `registrar`,
REGISTER is answered 405. `on_call(call)` runs as its own task; when it returns (or raises) a
still-live call is hung up, so a finished pipeline never leaves a caller listening to silence.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

from .answering import Answering
from .call import Call
from .endpoint_config import EndpointConfig
from .outbound import Outbound
from .ratelimit import SourceLimiter, Verdict
from .refer import OnRefer, OnTransfer, Transfers
from .registrar import DigestRegistrar
from .sdp import SdpError
from .sip_dialog import new_tag
from .sip_errors import SipParseError
from .sip_headers import host_to_ip, parse_via, split_header_list
from .sip_message import SipRequest, SipResponse, canonical_name, missing_mandatory, parse_message, _unfold
from .sip_transaction import InviteServerTransaction, ServerTransaction, State, server_key
from .sip_transport import STREAM, SipTransport, Source
from .transfer import ReferResult
from .user_agent import ALLOW, SUPPORTED_EXT, OnCall, UserAgent

log = logging.getLogger(__name__)

KNOWN_UNSUPPORTED = {"REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE"}


class SipEndpoint(UserAgent):
    """`SipEndpoint(EndpointConfig(host, port, ...), on_call, ...)`; `await start()`, `await stop()`.

    Keyword arguments are behaviour, not configuration: `on_refer(call, uri)` may veto a REFER
    we get, `on_transfer(old, new)` runs the call it places (else `on_call`), `registrar` serves
    REGISTER, `invite_limit` rate-limits new INVITEs per source, `admit()` False refuses new
    calls (503) while the application is overloaded.
    """

    def __init__(self, config: EndpointConfig, on_call: OnCall, *, on_refer: OnRefer | None = None,
                 on_transfer: OnTransfer | None = None, registrar: DigestRegistrar | None = None,
                 invite_limit: SourceLimiter | None = None, admit: Callable[[], bool] | None = None) -> None:
        if not isinstance(config, EndpointConfig):
            raise TypeError(f"SipEndpoint takes an EndpointConfig first, got {type(config).__name__}")
        tls = config.tls
        transport = SipTransport(config.host, config.port, self._on_datagram, self._on_message, tcp=config.tcp,
                                 tls=tls.server, tls_host=tls.host, tls_port=tls.port)
        super().__init__(config, on_call, transport)
        self.registrar = registrar
        self.invite_limit = invite_limit
        self.outbound = Outbound(self)
        self.transfers = Transfers(self, self.outbound, on_refer, on_transfer)
        self.answering = Answering(self, self.transfers.match_replaces, admit)

    # ---- what the application calls ---------------------------------------------------------------
    async def invite(self, uri: str, *, from_user: str | None = None, display: str | None = None,
                     headers: Iterable[tuple[str, str]] = (), ring_timeout: float = 30.0,
                     credentials: tuple[str, str] | None = None, on_call: OnCall | None = None,
                     codecs: tuple[str, ...] | None = None) -> Call:
        """Call `uri`; the answered Call, or `CallFailed` (see `Outbound.invite`)."""
        return await self.outbound.invite(uri, from_user=from_user, display=display, headers=headers,
                                          ring_timeout=ring_timeout, credentials=credentials, on_call=on_call,
                                          codecs=codecs)

    async def refer(self, call: Call, target: str | Call, *, replaces: Call | None = None, timeout: float = 30.0,
                    hangup: bool = True) -> ReferResult:
        """Transfer `call`'s peer with REFER; see `Transfers.refer`."""
        return await self.transfers.refer(call, target, replaces=replaces, timeout=timeout, hangup=hangup)

    def stats(self) -> dict[str, int]:
        """What the endpoint holds now (a leak shows as numbers that do not return to zero)."""
        options = sum(1 for key in self.server_tx if key and key[-1] == "OPTIONS")
        return {"legs": len(self.legs), "calls": len(self.calls), "server_transactions": len(self.server_tx),
                "server_transactions_options": options,  # health probes: each lingers 32 s (Timer J)
                "client_transactions": len(self.client_tx), "tasks": len(self._tasks),
                "calls_answered": self.calls_answered, "calls_refused": self.calls_refused,
                "invites_rejected": self.invite_limit.rejected if self.invite_limit else 0,
                "invites_dropped": self.invite_limit.dropped if self.invite_limit else 0}

    # ---- intake -----------------------------------------------------------------------------------
    def _on_datagram(self, data: bytes, source: Source) -> None:
        if not data.strip(b"\r\n\x00 "):
            return  # keep-alive
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            resp = unparseable_response(data, exc, self.config.user_agent)
            if resp is not None:
                try:
                    self.transport.send(resp.serialize(), source.addr, source.transport, source.conn)
                    log.info("answered %d to malformed request from %s: %s", exc.status, source.addr, exc.reason)
                except Exception as err:  # best effort only
                    log.debug("could not answer malformed request: %s", err)
            return
        self._on_message(msg, source)

    def _on_message(self, msg, source: Source) -> None:
        try:
            if isinstance(msg, SipResponse):
                self.on_response(msg)
            else:
                self._on_request(msg, source)
        except SipParseError as exc:
            log.info("dropping message from %s: %s", source.addr, exc)

    def _on_request(self, req: SipRequest, source: Source) -> None:
        if missing_mandatory(req):
            if "Via" in req.headers and req.method != "ACK":
                self.reply_sender(req, source)(self.response(req, 400, "Missing Mandatory Header").serialize())
            return
        stamp_via(req, source.addr)
        key = server_key(req)
        if req.method == "ACK":
            tx = self.server_tx.get(key)
            if isinstance(tx, InviteServerTransaction) and tx.state in (State.COMPLETED, State.CONFIRMED):
                tx.receive_ack(req)
                return
            leg = self.legs.get((req.call_id, req.to.tag or ""))
            if leg is not None:
                self.answering.on_ack(leg, req)
            return
        tx = self.server_tx.get(key)
        if tx is not None:
            tx.receive_retransmission(req)
            return
        limited = False
        admission = self.config.admission
        if req.method == "INVITE" and not req.to.tag and self.invite_limit is not None and not admission.exempt(source.addr[0]):
            verdict = self.invite_limit.check(source.addr[0])
            if verdict is Verdict.DROP:
                return  # a flood: no transaction, no reply
            limited = verdict is Verdict.REJECT
        if req.method == "REGISTER" and self.registrar is not None and self.registrar.refusal(source, req) == "drop":
            return  # a source caught guessing passwords: no transaction, no reply
        send = self.reply_sender(req, source)
        reliable = source.transport in STREAM
        cls = InviteServerTransaction if req.method == "INVITE" else ServerTransaction
        tx = cls(req, send, self.config.timing.sip, reliable, on_terminated=lambda t, k=key: self._server_tx_done(k, t))
        self.server_tx[key] = tx
        if limited:
            log.info("503 for INVITE from %s: over the rate limit", source.addr[0])
            retry = str(self.invite_limit.retry_after())
            tx.respond(self.response(req, 503, "Rate Limited", extra=[("Retry-After", retry)]))
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
        self.pending.pop(key, None)

    # ---- dispatch -------------------------------------------------------------------------------
    def _dispatch(self, req: SipRequest, tx: ServerTransaction, source: Source, key: tuple) -> None:
        method = req.method
        if req.request_uri.scheme not in ("sip", "sips"):
            tx.respond(self.response(req, 416))
            return
        if method == "CANCEL":
            self.answering.on_cancel(req, tx, key)
            return
        required = [r for r in req.headers.values("Require") if r.lower() not in SUPPORTED_EXT.split(", ")]
        if required:
            tx.respond(self.response(req, 420, extra=[("Unsupported", ", ".join(required))]))
            return
        if req.to.tag:
            self._dispatch_in_dialog(req, tx)
        elif method == "INVITE":
            self.answering.on_invite(req, tx, source, key)
        elif method == "OPTIONS":  # draining: 503, so Kamailio's dispatcher probes route elsewhere
            tx.respond(self.response(req, 503, "Draining") if self.draining else self._options_response(req))
        elif method in ("BYE", "INFO", "NOTIFY", "UPDATE", "PRACK"):
            tx.respond(self.response(req, 481))
        elif method == "REFER":  # out-of-dialog REFER (RFC 3515 allows it): not taken from strangers
            tx.respond(self.response(req, 403))
        elif method == "REGISTER" and self.registrar is not None:
            self._on_register(req, tx, source)
        else:
            self._not_served(req, tx)

    def _dispatch_in_dialog(self, req: SipRequest, tx: ServerTransaction) -> None:
        method = req.method
        leg = self.legs.get((req.call_id, req.to.tag))
        if leg is None or leg.ended:
            tx.respond(self.response(req, 481))
            return
        if not leg.dialog.accepts_cseq(req):
            tx.respond(self.response(req, 500, "Out Of Order CSeq"))
            return
        if method == "BYE":
            self.answering.on_bye(leg, req, tx)
        elif method == "INVITE":
            self.answering.on_reinvite(leg, req, tx)
        elif method == "INFO":
            self.answering.on_info(leg, req, tx)
        elif method == "REFER":
            self.transfers.on_refer_request(leg, req, tx)
        elif method == "NOTIFY":
            self.transfers.on_notify(leg, req, tx)
        elif method == "UPDATE":
            self.answering.on_update(leg, req, tx)
        elif method == "PRACK":
            self.answering.on_prack(leg, req, tx)
        elif method == "OPTIONS":
            tx.respond(self._options_response(req))
        else:
            self._not_served(req, tx)

    def _not_served(self, req: SipRequest, tx: ServerTransaction) -> None:
        status = 405 if req.method in KNOWN_UNSUPPORTED else 501
        tx.respond(self.response(req, status, extra=[("Allow", ALLOW)]))

    def _on_register(self, req: SipRequest, tx: ServerTransaction, source: Source) -> None:
        if not self.config.admission.allowed(source.addr[0]):
            tx.respond(self.response(req, 403))
            return
        answer = self.registrar.handle(req, source)
        if answer is None:  # refused silently (the source was blocked meanwhile)
            tx.terminate()
            return
        status, reason, extra = answer
        tx.respond(self.response(req, status, reason, to_tag=new_tag(), extra=extra))

    def _options_response(self, req: SipRequest) -> SipResponse:
        return self.response(req, 200, extra=[("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", SUPPORTED_EXT),
                                               ("Contact", self.contact())])


# ---- intake helpers (pure) ------------------------------------------------------------------------
def unparseable_response(data: bytes, exc: SipParseError, server: str) -> SipResponse | None:
    """The 400/505 for a request we could not parse, if it names who to answer (else None)."""
    try:
        head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        lines = _unfold(head.lstrip("\r\n"))
        if not lines or lines[0].startswith("SIP/") or lines[0].split(" ", 1)[0] == "ACK":
            return None
        fields: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                fields.setdefault(canonical_name(name.strip()), []).append(value.strip())
        if not all(k in fields for k in ("Via", "From", "To", "Call-ID", "CSeq")):
            return None
        resp = SipResponse(exc.status)
        for via in fields["Via"]:
            resp.headers.add("Via", via)
        for name in ("From", "To", "Call-ID", "CSeq"):
            resp.headers.add(name, fields[name][0])
        resp.headers.add("Server", server)
        return resp
    except Exception as err:  # best effort only
        log.debug("could not answer malformed request: %s", err)
        return None


def stamp_via(req: SipRequest, addr: tuple[str, int]) -> None:
    """RFC 3261 §18.2.1 received and RFC 3581 rport on the top Via, from where it came."""
    first_line = req.headers.get("Via")
    if first_line is None:
        raise SipParseError("missing Via")
    parts = split_header_list(first_line)
    via = parse_via(parts[0])
    ip, port = addr
    if host_to_ip(via.host) != ip:
        via.params["received"] = ip
    if "rport" in via.params:
        via.params["rport"] = str(port)
        via.params["received"] = ip
    req.headers.replace_first("Via", ", ".join([str(via)] + parts[1:]))


__all__ = ["KNOWN_UNSUPPORTED", "SipEndpoint", "stamp_via", "unparseable_response"]
