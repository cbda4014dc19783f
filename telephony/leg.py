"""What the endpoint keeps for one dialog (a `Leg`), shared by every SIP role that touches it.

A leg is created by the role that made the dialog (answering an INVITE, or calling out) and is
found again by `(Call-ID, local tag)` in `UserAgent.legs` by the others (BYE, re-INVITE, REFER).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import secrets

from .call import Call
from .media import RtpSession
from .sdp import MediaParams
from .sip_dialog import Dialog
from .sip_message import SipRequest
from .sip_transaction import InviteClientTransaction, InviteServerTransaction
from .sip_transport import Source


@dataclass
class ReferSub:
    """The implicit subscription a REFER we sent created (RFC 3515 §2.4.4)."""

    progress: list[int] = field(default_factory=list)
    final: asyncio.Future | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Leg:
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
    offered_crypto: tuple = ()  # the a=crypto lines (sdes.Crypto) of an offer we made, until answered
    replaces: "Leg | None" = None  # an incoming INVITE with Replaces: the leg it takes over
    refer_subs: dict[int, ReferSub] = field(default_factory=dict)  # CSeq of a REFER we sent → its subscription
    transferred: bool = False  # a REFER we sent reported success
    being_replaced: bool = False  # we asked a transferee to INVITE-with-Replaces this leg's peer
    session_id: int = field(default_factory=lambda: secrets.randbelow(2**31))
    sdp_version: int = 1
    tasks: set = field(default_factory=set)
    prack: tuple | None = None  # a reliable provisional awaiting PRACK: (RSeq, INVITE CSeq, future)
    session_timer: object = None  # session_timer.SessionTimer in force (RFC 4028), None: untimed
    timer_handle: asyncio.TimerHandle | None = None  # its refresh or expiry

    @property
    def key(self) -> tuple[str, str]:
        """Where `UserAgent.legs` files this leg: (Call-ID, our tag)."""
        return self.dialog.call_id, self.dialog.local_tag
