"""The calling-out role (UAC): INVITE a URI, answer a digest challenge once, CANCEL on no answer.

`Outbound.invite()` is what `SipEndpoint.invite()` runs: the hand-off to an agent's phone, and
the new call a REFER we obey places. It sends to IP literals only (no DNS), over TLS for `sips:`
and `;transport=tls` targets, and never leaves a phone ringing: a ring timeout or a cancelled
task sends CANCEL before it unwinds, and a 200 that crosses the CANCEL gets its ACK and BYE.
Over TLS the offer carries SDES crypto lines (per `MediaConfig.srtp`); an answer that drops
them gives plain RTP, unless SRTP is required (then 488, and a BYE).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import ssl
from typing import Callable, Iterable

from .call import Call
from .digest import digest_authorization
from .leg import Leg
from .sdes import offer_lines
from .sdp import SdpError, accept_answer, build_offer, parse_sdp
from .sip_dialog import Dialog, new_call_id, new_tag
from .sip_headers import parse_uri, quote
from .sip_message import SipRequest
from .sip_transport import Source
from .user_agent import ALLOW, SUPPORTED_EXT, OnCall, UserAgent, uri_host

log = logging.getLogger(__name__)

class CallFailed(Exception):
    """An outbound INVITE ended without a call: `status` is the final response (408 on timeout)."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(f"{status} {reason}".strip())
        self.status = status
        self.reason = reason


class Outbound:
    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua

    async def invite(self, uri: str, *, from_user: str | None = None, display: str | None = None,
                     headers: Iterable[tuple[str, str]] = (), ring_timeout: float = 30.0,
                     credentials: tuple[str, str] | None = None, on_call: OnCall | None = None,
                     codecs: tuple[str, ...] | None = None) -> Call:
        """Call `uri` (e.g. an agent's phone). Returns the answered Call or raises CallFailed.

        Extra `headers` ride on the INVITE (the hand-off summary). No answer within
        `ring_timeout` → CANCEL and CallFailed(408). A 401/407 is answered once with digest
        credentials. If `on_call` is given it runs like an inbound call's handler.
        """
        ua, config = self.ua, self.ua.config
        target = parse_uri(uri)
        over_tls = target.scheme == "sips" or str(target.params.get("transport") or "").lower() == "tls"
        dest = target.address(5061 if over_tls else 5060)
        ipaddress.ip_address(dest[0])  # the UAC sends to IP literals only (no DNS here)
        conn = None
        if over_tls:
            if config.tls.client is None:
                raise CallFailed(503, "No TLS client context for a TLS target")
            try:
                conn = await ua.transport.connect(dest, config.tls.client)
            except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
                raise CallFailed(503, f"TLS connection failed: {type(exc).__name__}") from None
        transport = "TLS" if over_tls else "UDP"
        media = await ua.open_media()
        session_id = secrets.randbelow(2**31)
        codecs = tuple(codecs or config.media.codecs)
        mode = config.media.srtp_mode(over_tls)
        if mode == "refuse":
            await media.close()
            raise CallFailed(488, "SRTP required but the target is not over TLS")
        crypto = offer_lines() if mode in ("offer", "require") else ()
        offer = build_offer(config.advertised_media_host, media.local_port, session_id, 1, codecs,
                            crypto=crypto, require_srtp=mode == "require")
        from_uri = f"sip:{from_user or config.user}@{uri_host(config.advertised_host)}:{ua.port}"
        from_value = (f"{quote(display)} " if display else "") + f"<{from_uri}>;tag={new_tag()}"
        call_id = new_call_id(config.advertised_host)
        cseq = 1
        auth_header: tuple[str, str] | None = None
        if conn is not None:
            send = lambda data: ua.transport.send(data, dest, "TLS", conn)  # noqa: E731
        else:
            send = lambda data: ua.transport.send(data, dest)  # noqa: E731
        try:
            while True:
                req = SipRequest("INVITE", target)
                h = req.headers
                h.add("Via", ua.via(transport))
                h.add("Max-Forwards", 70)
                h.add("From", from_value)
                h.add("To", f"<{target}>")
                h.add("Call-ID", call_id)
                h.add("CSeq", f"{cseq} INVITE")
                h.add("Contact", ua.contact(transport))
                h.add("Allow", ALLOW)
                h.add("Supported", SUPPORTED_EXT)
                h.add("User-Agent", config.user_agent)
                if auth_header:
                    h.add(*auth_header)
                for name, value in headers:
                    h.add(name, value)
                h.add("Content-Type", "application/sdp")
                req.body = offer.serialize()
                ringing = asyncio.Event()
                fut = ua.send_request(req, send, conn is not None, on_provisional=lambda r: ringing.set())
                try:
                    resp = await asyncio.wait_for(asyncio.shield(fut), ring_timeout)
                except asyncio.TimeoutError:
                    await self._cancel(req, send, fut, ringing)
                    raise CallFailed(408, "No Answer") from None
                except asyncio.CancelledError:
                    # The application gave up (the caller hung up while the agent rang): the
                    # agent's phone must stop ringing, so CANCEL goes out before we unwind.
                    await asyncio.shield(self._cancel(req, send, fut, ringing))
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
        leg = Leg(dialog, Source(transport, dest, conn), req, None, media=media, answered=True, session_id=session_id)
        ua.legs[leg.key] = leg
        ua.send_ack(leg, cseq)
        params = None
        try:
            params = accept_answer(parse_sdp(resp.body), codecs, crypto, mode == "require") if resp.body else None
        except SdpError:
            params = None
        if params is None:
            await ua.end_leg(leg, "media_failed", send_bye=True)
            raise CallFailed(488, "No common codec (or no SRTP where required) in answer")
        leg.params = params
        media.configure(params)
        call = ua.new_call(leg, call_id, str(resp.to.uri), params.codec, direction="outbound", local_uri=from_uri)
        ua.wire_media(leg)
        if on_call is not None:
            ua.spawn(ua.run_app(leg, on_call), leg)
        return call

    async def _cancel(self, invite: SipRequest, send: Callable[[bytes], None], fut: asyncio.Future,
                      ringing: asyncio.Event) -> None:
        """CANCEL a ringing INVITE (RFC 3261 §9.1); only after a provisional response."""
        ua, timer_b = self.ua, self.ua.config.timing.sip.b
        if not ringing.is_set():
            try:
                await asyncio.wait_for(asyncio.shield(fut), timer_b)
            except asyncio.TimeoutError:
                return
            if fut.done():
                return
        cancel = SipRequest("CANCEL", invite.uri)
        for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
            cancel.headers.add(name, invite.headers.get(name))
        cancel.headers.add("CSeq", f"{invite.cseq.number} CANCEL")
        await ua.send_request(cancel, send, False)
        try:
            resp = await asyncio.wait_for(asyncio.shield(fut), timer_b)
        except asyncio.TimeoutError:
            return
        if resp is not None and resp.status < 300:  # the callee answered as we cancelled: hang up
            dialog = Dialog.as_uac(invite, resp)
            leg = Leg(dialog, Source("UDP", parse_uri(invite.uri).address()), invite, None, answered=True)
            ua.send_ack(leg, invite.cseq.number)
            await asyncio.wait_for(ua.request_in_dialog(leg, "BYE"), ua.config.timing.hangup_wait)
