"""The answering role (UAS): INVITE → 100 → 180 → 200 with the SDP answer, and the in-dialog
requests that follow it (ACK, CANCEL, BYE, INFO DTMF, re-INVITE for hold and unhold; UPDATE,
PRACK and session timers through `session_refresh`).

A source outside `allow` gets 403, a full endpoint (or `admit()` False) 503, an offer without a
codec we speak 488 (so does one without SRTP when SRTP is required, or, when it is required
over signalling that is not TLS, every offer), a body that is not SDP 415. An INVITE with Replaces (matched by the
transfer role) is answered at once without ringing and ends the leg it replaces. CANCEL
before the answer gets the INVITE a 487; the answer itself never outlives a CANCEL. While the
endpoint drains (`UserAgent.draining`) a new INVITE gets 503. `Require: 100rel` gets a reliable
180 and the 200 waits for its PRACK; a `Session-Expires` under our Min-SE gets 422.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from .dtmf import parse_info_body
from .leg import Leg
from .sdes import offer_lines
from .sdp import SessionDescription, accept_answer, build_answer, build_offer, negotiate, parse_sdp, SdpError
from .session_refresh import SessionUpkeep, refuse_too_brief, requires_100rel, session_timer_for
from .sip_dialog import Dialog, new_tag
from .sip_message import SipRequest
from .sip_transaction import InviteServerTransaction, ServerTransaction, State
from .sip_transport import Source
from .user_agent import ALLOW, SUPPORTED_EXT, UserAgent

log = logging.getLogger(__name__)

MatchReplaces = Callable[[SipRequest, InviteServerTransaction], "Leg | None"]


class Answering:
    def __init__(self, ua: UserAgent, match_replaces: MatchReplaces, admit: Callable[[], bool] | None = None) -> None:
        self.ua = ua
        self.match_replaces = match_replaces
        # `admit()` False: the application is overloaded; new calls get 503 (a balancer fails over).
        self.admit = admit
        self.upkeep = SessionUpkeep(ua)

    def srtp_mode(self, source: Source) -> str:
        """This call's SRTP mode: SDES keys only over TLS unless the configuration allows otherwise."""
        return self.ua.config.media.srtp_mode(source.transport == "TLS")

    def renegotiate(self, req: SipRequest, tx, leg: Leg):
        """A new offer in a dialog (re-INVITE or UPDATE): the leg takes what we make of it (hold,
        codec; our SRTP key kept); the offer, or None once refused."""
        negotiated = self.take_offer(req, tx, leg=leg)
        if negotiated is None:
            return None
        offer, params = negotiated
        leg.params = params
        if leg.call:
            leg.call.on_hold = params.direction in ("recvonly", "inactive")
            leg.call.codec = params.codec
        return offer

    def take_offer(self, req: SipRequest, tx: InviteServerTransaction, source: Source | None = None,
                   leg: Leg | None = None):
        """The SDP offer of an INVITE or re-INVITE and what we make of it; None once refused (415/488).

        `source` (or `leg`'s) decides the SRTP mode; a re-INVITE's `leg` keeps our SRTP key."""
        ua = self.ua
        if req.content_type != "application/sdp":
            tx.respond(ua.response(req, 415, extra=[("Accept", "application/sdp")]))
            return None
        offer = parse_sdp(req.body)
        source = source or (leg.source if leg is not None else None)
        mode = self.srtp_mode(source) if source is not None else "off"
        ours = leg.params.srtp if leg is not None and leg.params is not None else None
        params = negotiate(offer, ua.config.media.codecs, srtp=mode, local_key=ours.local_key if ours else None)
        if params is not None and params.srtp is not None and source.transport != "TLS":
            log.warning("SRTP keys exchanged over %s signalling from %s (srtp_insecure_signalling)",
                        source.transport, source.addr[0])
        if params is None:
            warning = f'305 {ua.config.advertised_host} "Incompatible media format"'
            tx.respond(ua.response(req, 488, extra=[("Warning", warning)]))
            return None
        return offer, params

    def on_invite(self, req: SipRequest, tx: InviteServerTransaction, source: Source, key: tuple) -> None:
        """A new INVITE (no To tag): admit it, take the offer, and start answering."""
        ua, admission = self.ua, self.ua.config.admission
        if not admission.allowed(source.addr[0]):
            log.info("403 for INVITE from %s", source.addr[0])
            tx.respond(ua.response(req, 403))
            return
        # Draining refuses new calls, not a transfer's INVITE with Replaces into a call in progress.
        draining = ua.draining and "Replaces" not in req.headers
        if draining or len([leg for leg in ua.legs.values() if not leg.ended]) >= admission.max_calls or (
                self.admit is not None and not self.admit()):
            ua.calls_refused += 1
            tx.respond(ua.response(req, 503, "Draining" if draining else "", extra=[("Retry-After", "5")]))
            return
        timer = session_timer_for(req, ua)
        if refuse_too_brief(ua, req, tx, timer):
            return
        params = offer = None
        if req.body:
            negotiated = self.take_offer(req, tx, source)
            if negotiated is None:
                return
            offer, params = negotiated
        replaced = None
        if "Replaces" in req.headers:
            replaced = self.match_replaces(req, tx)
            if replaced is None:
                return
        tx.respond(ua.response(req, 100))
        dialog = Dialog.as_uas(req, new_tag())
        leg = Leg(dialog, source, req, tx, params=params, replaces=replaced)
        ua.legs[leg.key] = leg
        ua.pending[key] = leg
        tx.on_no_ack = lambda: ua.spawn(ua.end_leg(leg, "ack_timeout", send_bye=True))
        tx.on_timeout = lambda: ua.spawn(ua.end_leg(leg, "timeout", send_bye=False))
        ua.spawn(self._answer(leg, offer, timer), leg)

    async def _answer(self, leg: Leg, offer: SessionDescription | None, timer=None) -> None:
        ua = self.ua
        tx = leg.invite_tx
        req = leg.invite
        tag = leg.dialog.local_tag
        try:
            try:
                leg.media = await ua.open_media()
            except OSError:
                log.exception("no RTP port")
                tx.respond(ua.response(req, 503, to_tag=tag))
                await ua.end_leg(leg, "error", send_bye=False)
                return
            if tx.state is not State.PROCEEDING:
                await ua.end_leg(leg, "cancel", send_bye=False)
                return
            contact = [("Contact", ua.contact(leg.source.transport))]
            if leg.replaces is None and requires_100rel(req):  # RFC 3262: a 180 the caller must PRACK
                if not await self.upkeep.send_reliable(leg, 180, contact):
                    await ua.end_leg(leg, "cancel" if tx.final_status == 487 else "no_prack", send_bye=False)
                    return
            elif leg.replaces is None:  # a replacing INVITE is answered at once, without alerting (RFC 3891)
                tx.respond(ua.response(req, 180, to_tag=tag, extra=contact))
                if ua.config.timing.answer_delay:
                    await asyncio.sleep(ua.config.timing.answer_delay)
            if tx.state is not State.PROCEEDING:
                await ua.end_leg(leg, "cancel", send_bye=False)
                return
            sd = self._local_sdp(leg, offer)
            extra = contact + [("Allow", ALLOW), ("Supported", SUPPORTED_EXT)] + self.upkeep.keep(leg, timer)
            tx.respond(ua.response(req, 200, to_tag=tag, extra=extra, body=sd.serialize()))
            leg.answered = True
            headers = {name: value for name, value in reversed(list(req.headers))}
            codec = leg.params.codec if leg.params else ua.config.media.codecs[0]
            call = ua.new_call(leg, req.call_id, str(req.from_.uri), codec, local_uri=str(req.to.uri), headers=headers)
            ua.wire_media(leg)
            if leg.replaces is not None:
                old = leg.replaces
                call.replaced = old.call
                ua.spawn(ua.end_leg(old, "replaced", send_bye=True))
            ua.spawn(ua.run_app(leg), leg)
        except asyncio.CancelledError:
            await ua.end_leg(leg, "cancel", send_bye=False)
            raise

    def _local_sdp(self, leg: Leg, offer: SessionDescription | None) -> SessionDescription:
        config = self.ua.config
        leg.sdp_version += 1
        host = config.advertised_media_host
        if offer is not None and leg.params is not None:
            leg.media.configure(leg.params)
            return build_answer(offer, leg.params, host, leg.media.local_port, leg.session_id, leg.sdp_version)
        leg.awaiting_ack_sdp = True  # delayed offer: we offer in the 2xx, the answer comes in ACK
        mode = self.srtp_mode(leg.source)
        leg.offered_crypto = offer_lines() if mode in ("offer", "require") else ()
        return build_offer(host, leg.media.local_port, leg.session_id, leg.sdp_version, config.media.codecs,
                           crypto=leg.offered_crypto, require_srtp=mode == "require")

    def on_ack(self, leg: Leg, ack: SipRequest) -> None:
        if isinstance(leg.invite_tx, InviteServerTransaction):
            leg.invite_tx.ack_received()
        if leg.awaiting_ack_sdp and ack.body:
            leg.awaiting_ack_sdp = False
            try:
                params = accept_answer(parse_sdp(ack.body), self.ua.config.media.codecs, leg.offered_crypto,
                                       require_srtp=self.srtp_mode(leg.source) in ("require", "refuse"))
            except SdpError:
                params = None
            if params is None:
                self.ua.spawn(self.ua.end_leg(leg, "media_failed", send_bye=True))
                return
            leg.params = params
            leg.media.configure(params)
            if leg.call:
                leg.call.codec = params.codec

    def on_cancel(self, req: SipRequest, tx: ServerTransaction, key: tuple) -> None:
        ua = self.ua
        invite_key = (key[0], key[1], "INVITE")
        leg = ua.pending.get(invite_key)
        invite_tx = ua.server_tx.get(invite_key)
        if invite_tx is None:
            tx.respond(ua.response(req, 481))
            return
        tx.respond(ua.response(req, 200))
        if isinstance(invite_tx, InviteServerTransaction) and invite_tx.state is State.PROCEEDING:
            tag = leg.dialog.local_tag if leg else new_tag()
            invite_tx.respond(ua.response(invite_tx.request, 487, to_tag=tag))
            if leg is not None:
                for task in list(leg.tasks):
                    task.cancel()
                ua.spawn(ua.end_leg(leg, "cancel", send_bye=False))

    def on_bye(self, leg: Leg, req: SipRequest, tx: ServerTransaction) -> None:
        ua = self.ua
        tx.respond(ua.response(req, 200))
        invite_tx = leg.invite_tx
        if isinstance(invite_tx, InviteServerTransaction) and invite_tx.state is State.PROCEEDING:
            invite_tx.respond(ua.response(invite_tx.request, 487, to_tag=leg.dialog.local_tag))
        reason = "transferred" if leg.transferred else "replaced" if leg.being_replaced else "remote_bye"
        ua.spawn(ua.end_leg(leg, reason, send_bye=False))

    def on_info(self, leg: Leg, req: SipRequest, tx: ServerTransaction) -> None:
        ua = self.ua
        if not req.body:
            tx.respond(ua.response(req, 200))
            return
        digit = parse_info_body(req.content_type, req.body)
        if digit is None:
            tx.respond(ua.response(req, 415, extra=[("Accept", "application/dtmf-relay, application/dtmf")]))
            return
        if leg.call is not None:
            leg.call.dtmf.put_nowait(digit)
        tx.respond(ua.response(req, 200))

    def on_reinvite(self, leg: Leg, req: SipRequest, tx: InviteServerTransaction) -> None:
        ua = self.ua
        if not leg.answered or leg.media is None:
            tx.respond(ua.response(req, 491))
            return
        if isinstance(leg.invite_tx, InviteServerTransaction) and leg.invite_tx.state is State.PROCEEDING:
            tx.respond(ua.response(req, 500, extra=[("Retry-After", "1")]))
            return
        timer = session_timer_for(req, ua)
        if refuse_too_brief(ua, req, tx, timer):
            return
        offer = None
        if req.body:
            offer = self.renegotiate(req, tx, leg)
            if offer is None:
                return
        contact = ua.contact(leg.source.transport)
        if req.contact is not None:
            leg.dialog.remote_target = str(req.contact.uri)
        leg.invite_tx = tx
        tx.on_no_ack = lambda: ua.spawn(ua.end_leg(leg, "ack_timeout", send_bye=True))
        sd = self._local_sdp(leg, offer)
        extra = [("Contact", contact), ("Allow", ALLOW), ("Supported", SUPPORTED_EXT)] + self.upkeep.keep(leg, timer)
        tx.respond(ua.response(req, 200, extra=extra, body=sd.serialize()))

    def on_update(self, leg: Leg, req: SipRequest, tx: ServerTransaction) -> None:
        self.upkeep.on_update(leg, req, tx, self)

    def on_prack(self, leg: Leg, req: SipRequest, tx: ServerTransaction) -> None:
        self.upkeep.on_prack(leg, req, tx)
