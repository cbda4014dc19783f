"""The SIP plumbing every role of the endpoint shares: transactions, legs, addressing, sending.

`UserAgent` is the transaction user of RFC 3261 §17 without any method's logic: it owns the
transport, the transaction tables and the legs, builds responses and in-dialog requests, and
ends legs (BYE, media closed, `Call.ended` set). The roles (`answering`, `outbound`, `refer`)
are small classes that receive it and call these methods; `SipEndpoint` is a `UserAgent` that
adds the intake and dispatch and wires the roles in. Everything here runs on the event loop.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
import ipaddress
import logging
from typing import Awaitable, Callable, Iterable

from .call import Call
from .endpoint_config import EndpointConfig
from .leg import Leg
from .media import RtpSession, bind_rtp_pair
from .sip_dialog import new_branch
from .sip_errors import SipParseError
from .sip_headers import host_to_ip
from .sip_message import SipRequest, SipResponse
from .sip_transaction import ClientTransaction, InviteClientTransaction, ServerTransaction, client_key
from .sip_transport import STREAM, SipTransport, Source
from .transfer import ReferResult

log = logging.getLogger(__name__)

OnCall = Callable[[Call], Awaitable[None]]

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE, PRACK"  # the methods we serve (Allow)
SUPPORTED_EXT = "replaces, 100rel, timer"  # the option tags we support (Supported; anything else in Require → 420)


def uri_host(host: str) -> str:
    """A host as it goes into a SIP URI (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _params_of(addr: str) -> str:
    gt = addr.rfind(">")
    return addr[gt + 1 :] if gt >= 0 else addr.partition(";")[2]


class UserAgent(ABC):
    def __init__(self, config: EndpointConfig, on_call: OnCall, transport: SipTransport) -> None:
        self.config = config
        self.on_call = on_call
        self.transport = transport
        self.port = config.port  # the bound port once started
        self.server_tx: dict[tuple, ServerTransaction] = {}
        self.client_tx: dict[tuple, ClientTransaction] = {}
        self.legs: dict[tuple[str, str], Leg] = {}
        self.pending: dict[tuple, Leg] = {}  # INVITE server-transaction key → unanswered leg
        self._tasks: set[asyncio.Task] = set()
        self.calls_answered = 0
        self.calls_refused = 0  # INVITEs answered 503 because the endpoint or the application was full
        self.draining = False  # set by `drain()`: new INVITEs and out-of-dialog OPTIONS get 503
        self._media_ended = {"lost": 0, "late": 0, "concealed": 0}  # RTP counts of the legs already ended

    @abstractmethod
    async def refer(self, call: Call, target: "str | Call", *, replaces: Call | None = None, timeout: float = 30.0,
                    hangup: bool = True) -> ReferResult:
        """What `Call.refer()` runs: the endpoint's transferor role."""

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.transport.start()
        self.port = self.transport.port

    async def drain(self, deadline: float, interrupt: asyncio.Event | None = None) -> bool:
        """Take no new calls (503, so a proxy in front routes elsewhere) and wait up to `deadline`
        seconds (or until `interrupt` is set) for the calls in progress to end; True when none is left."""
        self.draining = True
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while any(not leg.ended for leg in self.legs.values()):
            left = end - loop.time()
            if left <= 0 or (interrupt is not None and interrupt.is_set()):
                return False
            # wake when a call ends or on the interrupt (unanswered legs: look again shortly)
            waits = [asyncio.ensure_future(leg.call.ended.wait()) for leg in self.legs.values()
                     if leg.call is not None and not leg.ended]
            if interrupt is not None:
                waits.append(asyncio.ensure_future(interrupt.wait()))
            await asyncio.wait(waits or [asyncio.ensure_future(asyncio.sleep(0.1))], timeout=min(left, 1.0),
                               return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
        return True

    async def stop(self) -> None:
        """Hang up every live call (BYE), then close the sockets."""
        live = [leg for leg in self.legs.values() if leg.answered and not leg.ended]
        if live:
            await asyncio.gather(*(self.end_leg(leg, "shutdown", send_bye=True) for leg in live), return_exceptions=True)
        for leg in list(self.legs.values()):
            await self.end_leg(leg, "shutdown", send_bye=False)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for tx in list(self.server_tx.values()) + list(self.client_tx.values()):
            tx.terminate()
        await self.transport.stop()

    def media_totals(self) -> dict[str, int]:
        """RTP packets lost and late, frames concealed, over every leg so far (ended and live)."""
        totals = dict(self._media_ended)
        for leg in self.legs.values():
            if leg.media is not None and not leg.ended:
                for name, value in _media_counts(leg.media).items():
                    totals[name] += value
        return totals

    @property
    def calls(self) -> list[Call]:
        return [leg.call for leg in self.legs.values() if leg.call is not None and not leg.ended]

    def spawn(self, coro: Awaitable, leg: Leg | None = None) -> asyncio.Task:
        """Run `coro` as a task the endpoint cancels on stop (and, with `leg`, on that leg's CANCEL)."""
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

    def port_for(self, transport: str) -> int:
        return self.transport.tls_port if transport == "TLS" and self.transport.tls is not None else self.port

    def contact(self, transport: str = "UDP") -> str:
        suffix = {"TCP": ";transport=tcp", "TLS": ";transport=tls"}.get(transport, "")
        return f"<sip:{self.config.user}@{uri_host(self.config.advertised_host)}:{self.port_for(transport)}{suffix}>"

    def via(self, transport: str = "UDP") -> str:
        host = uri_host(self.config.advertised_host)
        return f"SIP/2.0/{transport} {host}:{self.port_for(transport)};branch={new_branch()};rport"

    def reply_sender(self, req: SipRequest, source: Source) -> Callable[[bytes], None]:
        """Where responses go: back down the TCP connection, or per Via received/rport (RFC 3581)."""
        if source.transport in STREAM:
            return lambda data: self.transport.send(data, source.addr, source.transport, source.conn)
        via = req.top_via
        host = via.params.get("received") or host_to_ip(via.host)
        rport = via.params.get("rport")
        port = int(rport) if rport and rport.isdigit() else (via.port or 5060)
        return lambda data: self.transport.send(data, (host_to_ip(host), port))

    def request_sender(self, leg: Leg, next_hop) -> tuple[Callable[[bytes], None], bool]:
        """How a request inside `leg`'s dialog is sent, and whether that transport is reliable."""
        if leg.source.transport in STREAM and leg.source.conn is not None and not leg.source.conn.closed:
            conn, name = leg.source.conn, leg.source.transport
            return (lambda data: self.transport.send(data, conn.addr, name, conn)), True
        host, port = next_hop.address()
        try:
            ipaddress.ip_address(host)
        except ValueError:  # a hostname we would have to resolve: use where the peer spoke from
            host, port = leg.source.addr
        return (lambda data: self.transport.send(data, (host, port))), False

    @staticmethod
    def dialog_transport(leg: Leg) -> str:
        return leg.source.transport if leg.source.transport in STREAM else "UDP"

    # ---- responses and requests ---------------------------------------------------------------
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
        h.add("Server", self.config.user_agent)
        for name, value in extra:
            h.add(name, value)
        if body:
            h.add("Content-Type", content_type or "application/sdp")
        resp.body = body
        return resp

    def request_in_dialog(self, leg: Leg, method: str, body: bytes = b"", content_type: str | None = None,
                          extra: Iterable[tuple[str, str]] = ()) -> asyncio.Future:
        """Send a request inside a dialog; the future resolves to the final response or None."""
        transport = self.dialog_transport(leg)
        req, next_hop = leg.dialog.request(method, self.via(transport), self.contact(transport), body, content_type,
                                           extra=list(extra))
        return self.send_request(req, *self.request_sender(leg, next_hop))

    def send_request(self, req: SipRequest, send: Callable[[bytes], None], reliable: bool,
                     on_provisional: Callable[[SipResponse], None] | None = None) -> asyncio.Future:
        """Start a client transaction; the future resolves to the final response, or None on timeout."""
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
        tx = cls(req, send, self.config.timing.sip, reliable, on_response, on_timeout,
                 on_terminated=lambda t, k=key: self.client_tx.pop(k, None) if self.client_tx.get(k) is t else None)
        self.client_tx[key] = tx
        tx.start()
        return fut

    def on_response(self, resp: SipResponse) -> None:
        """A response from the network: to its client transaction, else ACK a retransmitted 2xx."""
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
                    self.send_ack(leg, resp.cseq.number)

    def send_ack(self, leg: Leg, cseq: int) -> None:
        transport = self.dialog_transport(leg)
        req, next_hop = leg.dialog.request("ACK", self.via(transport), self.contact(transport), cseq=cseq)
        send, _ = self.request_sender(leg, next_hop)
        try:
            send(req.serialize())
        except (ConnectionError, OSError) as exc:
            log.info("ACK not sent: %s", exc)

    # ---- calls and their media ----------------------------------------------------------------
    async def open_media(self) -> RtpSession:
        """An RTP/RTCP port pair from the configured range, as a session not yet configured."""
        media = self.config.media
        rtp, rtcp, port = await bind_rtp_pair(self.config.host, media.rtp_ports)
        return RtpSession(rtp, rtcp, port, rtp_timeout=media.rtp_timeout, jitter_ms=media.jitter_ms)

    def new_call(self, leg: Leg, call_id: str, remote_uri: str, codec: str, **kw) -> Call:
        """The `Call` the application gets for an answered `leg` (counted as answered)."""
        call = Call(call_id, remote_uri, codec, leg.media, leg.dialog, self._hangup_call, **kw)
        call._endpoint = self
        leg.call = call
        self.calls_answered += 1
        return call

    def wire_media(self, leg: Leg) -> None:
        call, media = leg.call, leg.media
        media.on_dtmf = call.dtmf.put_nowait
        media.on_timeout = lambda: self.spawn(self.end_leg(leg, "rtp_timeout", send_bye=True))
        media.start()

    async def run_app(self, leg: Leg, handler: OnCall | None = None) -> None:
        """The application's handler for the call; a call still up when it returns is hung up."""
        call = leg.call
        try:
            await (handler or self.on_call)(call)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("on_call failed for %s", call.call_id)
        finally:
            if not leg.ended:
                self.spawn(self.end_leg(leg, "local_bye", send_bye=True))

    # ---- ending calls ---------------------------------------------------------------------------
    def leg_of(self, call: Call) -> Leg | None:
        return self.legs.get((call.dialog.call_id, call.dialog.local_tag))

    async def _hangup_call(self, call: Call) -> None:
        leg = self.leg_of(call)
        if leg is not None:
            await self.end_leg(leg, "local_bye", send_bye=True)

    async def end_leg(self, leg: Leg, reason: str, send_bye: bool) -> None:
        """End `leg` once (later calls wait for that end): media closed, BYE if asked, `Call.ended` set."""
        if leg.ended:
            if leg.call is not None:
                await leg.call.ended.wait()
            return
        leg.ended = True
        if leg.timer_handle is not None:
            leg.timer_handle.cancel()
        if leg.call is not None:
            leg.call.end_reason = reason
        if leg.media is not None:
            for name, value in _media_counts(leg.media).items():
                self._media_ended[name] += value
            await leg.media.close()
        if send_bye and leg.answered:
            try:
                await asyncio.wait_for(self.request_in_dialog(leg, "BYE"), self.config.timing.hangup_wait)
            except (asyncio.TimeoutError, ConnectionError, OSError) as exc:
                log.info("BYE for %s got no answer: %s", leg.dialog.call_id, exc)
        self.legs.pop(leg.key, None)
        if leg.call is not None:
            leg.call.ended.set()
        log.info("call %s ended: %s", leg.dialog.call_id, reason)



def _media_counts(media: RtpSession) -> dict[str, int]:
    jb = media.jb
    return {"lost": media.stats.lost, "late": jb.late, "concealed": jb.concealed}
