"""The transfer roles: REFER (RFC 3515) both ways, its NOTIFY progress, and Replaces (RFC 3891).

As transferor, `Transfers.refer()` sends REFER on a call and waits for the sipfrag NOTIFYs
(blind, or attended with `Replaces` per RFC 5589). As transferee, a REFER we get is answered
202, its target INVITEd through the `Outbound` role, and the outcome reported back by NOTIFY.
An INVITE with Replaces is matched to the dialog it takes over here; answering does the rest.
The header formats are pure functions in `transfer.py`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Awaitable, Callable

from .call import Call
from .leg import Leg, ReferSub
from .outbound import CallFailed, Outbound
from .sip_errors import SipParseError
from .sip_headers import parse_uri
from .sip_message import SipRequest
from .sip_transaction import InviteServerTransaction, ServerTransaction
from .transfer import (
    SIPFRAG, ReferResult, ReferTarget, Replaces, event_id, parse_refer_to, parse_replaces, parse_sipfrag,
    refer_to_value, sipfrag, subscription_state,
)
from .user_agent import UserAgent

log = logging.getLogger(__name__)

OnRefer = Callable[[Call, str], bool]
OnTransfer = Callable[[Call, Call], Awaitable[None]]


class Transfers:
    """REFER and Replaces for one endpoint.

    A REFER we receive: `on_refer(call, target_uri)` may veto it (False → 603); the new call
    runs `on_transfer(old_call, new_call)` if given, else the endpoint's `on_call(new_call)`.
    """

    def __init__(self, ua: UserAgent, outbound: Outbound, on_refer: OnRefer | None = None,
                 on_transfer: OnTransfer | None = None) -> None:
        self.ua = ua
        self.outbound = outbound
        self.on_refer = on_refer
        self.on_transfer = on_transfer

    # ---- Replaces (an INVITE that takes over one of our dialogs) ----------------------------------
    def match_replaces(self, req: SipRequest, tx: InviteServerTransaction) -> Leg | None:
        """RFC 3891 §3: the dialog an INVITE with Replaces takes over; answers 481/486/400 if none."""
        ua = self.ua
        try:
            rep = parse_replaces(req.headers.get("Replaces") or "")
        except SipParseError:
            tx.respond(ua.response(req, 400, "Bad Replaces"))
            return None
        leg = ua.legs.get((rep.call_id, rep.to_tag))
        if leg is None or leg.ended or leg.dialog.remote_tag != rep.from_tag or not leg.answered:
            tx.respond(ua.response(req, 481))
            return None
        if rep.early_only:
            tx.respond(ua.response(req, 486))
            return None
        return leg

    # ---- transferee: a REFER we receive -----------------------------------------------------------
    def on_refer_request(self, leg: Leg, req: SipRequest, tx: ServerTransaction) -> None:
        """We are the transferee: 202, then INVITE the Refer-To target and report with NOTIFY."""
        ua = self.ua
        values = req.headers.values("Refer-To")
        if len(values) != 1:
            tx.respond(ua.response(req, 400, "Bad Refer-To"))
            return
        try:
            target = parse_refer_to(values[0])
            uri = parse_uri(target.uri)
            ipaddress.ip_address(uri.address()[0])
        except (SipParseError, ValueError):
            tx.respond(ua.response(req, 400, "Bad Refer-To"))
            return
        if not leg.answered or leg.call is None or uri.scheme != "sip":
            tx.respond(ua.response(req, 603 if uri.scheme != "sip" else 491))
            return
        if self.on_refer is not None and not self.on_refer(leg.call, target.uri):
            tx.respond(ua.response(req, 603))
            return
        if req.contact is not None:
            leg.dialog.remote_target = str(req.contact.uri)
        tx.respond(ua.response(req, 202, extra=[("Contact", ua.contact(leg.source.transport))]))
        ua.spawn(self._run_refer(leg, target, req.cseq.number, req.headers.get("Referred-By")), leg)

    async def _notify(self, leg: Leg, sub_id: int, status: int, reason: str, final: bool) -> None:
        state = "terminated;reason=noresource" if final else "active;expires=60"
        try:
            await asyncio.wait_for(self.ua.request_in_dialog(
                leg, "NOTIFY", sipfrag(status, reason), SIPFRAG,
                extra=[("Event", f"refer;id={sub_id}"), ("Subscription-State", state)]), self.ua.config.timing.hangup_wait)
        except (asyncio.TimeoutError, ConnectionError, OSError) as exc:
            log.info("NOTIFY for %s got no answer: %s", leg.dialog.call_id, exc)

    async def _run_refer(self, leg: Leg, target: ReferTarget, sub_id: int, referred_by: str | None) -> None:
        ua = self.ua
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
            new = await self.outbound.invite(target.uri, headers=extra, ring_timeout=ua.config.timing.refer_ring_timeout,
                                             on_call=handler or ua.on_call)
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
            await ua.end_leg(leg, "transferred", send_bye=True)

    # ---- transferor: a REFER we send --------------------------------------------------------------
    def on_notify(self, leg: Leg, req: SipRequest, tx: ServerTransaction) -> None:
        """Progress of a REFER we sent (message/sipfrag in NOTIFY, RFC 3515 §2.4.5)."""
        ua = self.ua
        event, sub = event_id(req.headers.get("Event"))
        if event != "refer":
            tx.respond(ua.response(req, 489, "Bad Event", extra=[("Allow-Events", "refer")]))
            return
        refer = leg.refer_subs.get(int(sub)) if sub and sub.isdigit() else None
        if refer is None and leg.refer_subs:
            refer = leg.refer_subs[max(leg.refer_subs)]  # no id: the latest REFER
        if refer is None:
            tx.respond(ua.response(req, 481, "Subscription Does Not Exist"))
            return
        tx.respond(ua.response(req, 200))
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
        ua = self.ua
        leg = ua.leg_of(call)
        if leg is None or leg.ended or not leg.answered:
            raise CallFailed(481, "Call is not up")
        if isinstance(target, Call):
            replaces, target = target, ""
        rep = None
        if replaces is not None:
            other = ua.leg_of(replaces)
            if other is None or other.ended or not other.answered:
                raise CallFailed(481, "The call to replace is not up")
            d = other.dialog
            rep = Replaces(d.call_id, d.remote_tag, d.local_tag)
            target = target or d.remote_target
            other.being_replaced = True
        transport = ua.dialog_transport(leg)
        req, next_hop = leg.dialog.request(
            "REFER", ua.via(transport), ua.contact(transport),
            extra=[("Refer-To", refer_to_value(target, rep)), ("Referred-By", f"<{call.local_uri or ua.contact()[1:-1]}>")])
        sub = ReferSub(final=asyncio.get_running_loop().create_future())
        cseq = req.cseq.number
        leg.refer_subs[cseq] = sub
        result = ReferResult(0, progress=sub.progress)
        try:
            resp = await asyncio.wait_for(ua.send_request(req, *ua.request_sender(leg, next_hop)), timeout)
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
            await ua.end_leg(leg, "transferred", send_bye=True)
        return result
