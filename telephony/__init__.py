"""telephony: SIP and RTP only (messages, transactions, dialogs, SDP, RTP, DTMF, the endpoint).

Knows nothing of speech. The voice pipeline uses `SipEndpoint` and the `Call` it hands over.
"""

from .call import Call
from .bridge import Bridge
from .endpoint import CallFailed, ReferResult, SipEndpoint
from .sip_errors import SipParseError
from .sip_transaction import Timers

__all__ = ["Bridge", "Call", "CallFailed", "ReferResult", "SipEndpoint", "SipParseError", "Timers"]
