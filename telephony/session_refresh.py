"""What carriers and PBXs send inside a dialog besides re-INVITE: UPDATE (RFC 3311), PRACK for
reliable provisional responses (RFC 3262), and session-timer refreshes (RFC 4028).

`SessionUpkeep` is the answering role's helper for these: it sends a reliable 180 and waits for
its PRACK (retransmitting on UDP, giving up after 64·T1 with a 5xx), answers UPDATE (with or
without an offer), negotiates `Session-Expires` on every INVITE, re-INVITE and UPDATE, and keeps
one timer per leg: as refresher it sends UPDATE (or re-INVITE when the peer does not allow
UPDATE) at half the interval; otherwise a session whose refresh never comes is ended with BYE.
The rules themselves (intervals, 422, who refreshes) are `session_timer`'s pure functions.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING

from .leg import Leg
from .sdp import build_offer
from .session_timer import SessionTimer, TooBrief, negotiate
from .sip_errors import SipParseError
from .sip_message import SipRequest
from .sip_transaction import InviteServerTransaction, ServerTransaction, State

if TYPE_CHECKING:
    from .user_agent import UserAgent

log = logging.getLogger(__name__)


def requires_100rel(req: SipRequest) -> bool:
    return "100rel" in {t.lower() for t in req.headers.values("Require")}


def session_timer_for(req: SipRequest, ua: "UserAgent") -> SessionTimer | TooBrief | None:
    """RFC 4028 negotiation for `req` with our configuration; a malformed header is a 400."""
    try:
        return negotiate(req.headers.get("Session-Expires"), req.headers.get("Min-SE"),
                         req.headers.values("Supported"), req.headers.values("Require"), ua.config.timing.session)
    except ValueError as exc:
        raise SipParseError(str(exc)) from None


def refuse_too_brief(ua: "UserAgent", req: SipRequest, tx: ServerTransaction, timer) -> bool:
    """Answer 422 (with our Min-SE) when `timer` says the interval asked is under our minimum."""
    if isinstance(timer, TooBrief):
        tx.respond(ua.response(req, 422, "Session Interval Too Small", extra=timer.response_headers()))
        return True
    return False


class SessionUpkeep:
    def __init__(self, ua: "UserAgent") -> None:
        self.ua = ua

    # ---- reliable provisional responses (RFC 3262) ---------------------------------------------
    async def send_reliable(self, leg: Leg, status: int, extra: list[tuple[str, str]]) -> bool:
        """Send `status` reliably and wait for its PRACK; False (INVITE answered 5xx) when none came."""
        ua, tx, req = self.ua, leg.invite_tx, leg.invite
        rseq = secrets.randbelow(2**31 - 1) + 1
        acked = asyncio.get_running_loop().create_future()
        leg.prack = (rseq, req.cseq.number, acked)
        resp = ua.response(req, status, to_tag=leg.dialog.local_tag,
                           extra=extra + [("Require", "100rel"), ("RSeq", str(rseq))])
        timers = ua.config.timing.sip
        interval, deadline = timers.t1, asyncio.get_running_loop().time() + timers.b
        reliable = leg.source.transport in ("TCP", "TLS")
        while True:
            if not isinstance(tx, InviteServerTransaction) or tx.state is not State.PROCEEDING:
                return False
            tx.respond(resp)
            wait = deadline - asyncio.get_running_loop().time() if reliable else interval
            try:
                await asyncio.wait_for(asyncio.shield(acked), max(0.0, wait))
                return True
            except asyncio.TimeoutError:
                if asyncio.get_running_loop().time() >= deadline:
                    log.info("no PRACK for %s's %d: refusing the INVITE", leg.dialog.call_id, status)
                    tx.respond(ua.response(req, 504, "No PRACK", to_tag=leg.dialog.local_tag))
                    return False
                interval *= 2  # RFC 3262 §3: T1, doubling, until 64·T1

    def on_prack(self, leg: Leg, req: SipRequest, tx: ServerTransaction) -> None:
        """PRACK: its RAck names our RSeq and the INVITE's CSeq, else it matches nothing (481)."""
        parts = (req.headers.get("RAck") or "").split()
        pending = leg.prack
        if (pending is None or len(parts) != 3 or parts[2].upper() != "INVITE"
                or not parts[0].isdigit() or not parts[1].isdigit()
                or (int(parts[0]), int(parts[1])) != pending[:2]):
            tx.respond(self.ua.response(req, 481, "No Matching Provisional"))
            return
        tx.respond(self.ua.response(req, 200))
        if not pending[2].done():
            pending[2].set_result(True)

    # ---- UPDATE (RFC 3311) ----------------------------------------------------------------------
    def on_update(self, leg: Leg, req: SipRequest, tx: ServerTransaction, answering) -> None:
        """UPDATE in an early or confirmed dialog: a new offer answered in the 200, or a refresh."""
        ua = self.ua
        timer = session_timer_for(req, ua)
        if refuse_too_brief(ua, req, tx, timer):
            return
        body, extra = b"", [("Contact", ua.contact(leg.source.transport))]
        if req.body:
            if leg.media is None:
                tx.respond(ua.response(req, 500, extra=[("Retry-After", "1")]))
                return
            offer = answering.renegotiate(req, tx, leg)
            if offer is None:
                return
            body = answering._local_sdp(leg, offer).serialize()
        if req.contact is not None:
            leg.dialog.remote_target = str(req.contact.uri)
        extra += self.keep(leg, timer)
        tx.respond(ua.response(req, 200, extra=extra, body=body))

    # ---- session timers (RFC 4028) --------------------------------------------------------------
    def keep(self, leg: Leg, timer: SessionTimer | None) -> list[tuple[str, str]]:
        """(Re)start `leg`'s session timer (None: none); the headers our 2xx carries for it."""
        if leg.timer_handle is not None:
            leg.timer_handle.cancel()
            leg.timer_handle = None
        leg.session_timer = timer
        if timer is None or not isinstance(timer, SessionTimer):
            return []
        loop = asyncio.get_running_loop()
        if timer.we_refresh:
            leg.timer_handle = loop.call_later(timer.refresh_in(), lambda: self.ua.spawn(self._refresh(leg)))
        else:
            leg.timer_handle = loop.call_later(timer.expire_in(), lambda: self._expired(leg))
        return timer.response_headers()

    def _expired(self, leg: Leg) -> None:
        if not leg.ended:
            log.info("call %s: no session refresh within %.0f s, ending it", leg.dialog.call_id,
                     leg.session_timer.interval if leg.session_timer else 0)
            self.ua.spawn(self.ua.end_leg(leg, "session_expired", send_bye=True))

    async def _refresh(self, leg: Leg) -> None:
        """We are the refresher: UPDATE without a body, or a re-INVITE with our SDP unchanged."""
        ua, timer = self.ua, leg.session_timer
        if leg.ended or timer is None:
            return
        headers = [("Session-Expires", f"{int(timer.interval)};refresher=uas"), ("Supported", "timer")]
        if "UPDATE" in {m.strip().upper() for m in leg.invite.headers.values("Allow")}:
            resp = await ua.request_in_dialog(leg, "UPDATE", extra=headers)
        else:
            codecs = (leg.params.codec,) if leg.params else ua.config.media.codecs
            sd = build_offer(ua.config.advertised_media_host, leg.media.local_port, leg.session_id, leg.sdp_version,
                             codecs)
            resp = await ua.request_in_dialog(leg, "INVITE", body=sd.serialize(), extra=headers)
            if resp is not None and 200 <= resp.status < 300:
                ua.send_ack(leg, resp.cseq.number)
        if leg.ended:
            return
        if resp is None or resp.status in (408, 481):  # RFC 4028 §10: the session is gone
            await ua.end_leg(leg, "session_expired", send_bye=True)
            return
        self.keep(leg, timer)


__all__ = ["SessionUpkeep", "refuse_too_brief", "requires_100rel", "session_timer_for"]
