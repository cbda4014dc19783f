"""telephony: SIP and RTP only (messages, transactions, dialogs, SDP, RTP, DTMF, the endpoint).

Knows nothing of speech. The voice pipeline uses `SipEndpoint` (configured by an
`EndpointConfig`) and the `Call` it hands over; agents' phones REGISTER with a `DigestRegistrar`.
"""

from .call import Call
from .bridge import Bridge
from .endpoint import SipEndpoint
from .endpoint_config import AdmissionConfig, EndpointConfig, MediaConfig, TimingConfig, TlsConfig
from .outbound import CallFailed
from .registrar import DigestRegistrar, Registration
from .sip_errors import SipParseError
from .sip_transaction import Timers
from .transfer import ReferResult

__all__ = ["AdmissionConfig", "Bridge", "Call", "CallFailed", "DigestRegistrar", "EndpointConfig", "MediaConfig",
           "ReferResult", "Registration", "SipEndpoint", "SipParseError", "TimingConfig", "Timers", "TlsConfig"]
