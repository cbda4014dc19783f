"""What a `SipEndpoint` is configured with, as one typed, validated value.

The endpoint used to take 28 keyword arguments; they are grouped here by what they are about:
where it listens and what it advertises (`EndpointConfig` itself), media (`MediaConfig`), timers
(`TimingConfig`), which calls get in (`AdmissionConfig`) and SIP over TLS (`TlsConfig`). Every
value is checked once, here, so a bad setting fails at start-up with its name in the message
rather than as an odd SIP failure mid-call. Behaviour (the application's callbacks, the
registrar, the rate limiter) stays in `SipEndpoint`'s keyword arguments: it is not configuration.

The endpoint reads its `config` when it needs a value, so assigning a new one
(`dataclasses.replace`) changes the media, timers and limits of calls that start afterwards; the
listening addresses and TLS contexts are taken at construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
import ipaddress
import ssl
from typing import Iterable

from .sdp import SUPPORTED
from .session_timer import SessionTimerConfig
from .sip_transaction import Timers

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(name: str, values: Iterable[str]) -> tuple[Network, ...]:
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value, strict=False))
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {value!r} is not an IP address or network") from None
    return tuple(out)


def _port(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        raise ValueError(f"{name} must be a port number 0..65535 (0: any free one), got {value!r}")


def _positive(name: str, value: float, zero_ok: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (value >= 0 if zero_ok else value > 0)
    if not ok:
        raise ValueError(f"{name} must be a number {'>= 0' if zero_ok else '> 0'}, got {value!r}")


def port_range(text: str) -> tuple[int, int]:
    """'20000-30000' → (20000, 30000), as `MediaConfig.rtp_ports` takes it (a flag's or variable's form)."""
    low, sep, high = text.partition("-")
    if not (sep and low.strip().isdigit() and high.strip().isdigit()):
        raise ValueError(f"an RTP port range is LOW-HIGH, got {text!r}")
    return MediaConfig(rtp_ports=(int(low), int(high))).rtp_ports


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # normalising a frozen dataclass's field in __post_init__


@dataclass(frozen=True)
class MediaConfig:
    """RTP: where its ports come from, what we speak, and when silence means the peer is gone."""

    rtp_ports: tuple[int, int] = (20000, 30000)  # [low, high): RTP on an even port, RTCP on the next
    codecs: tuple[str, ...] = SUPPORTED  # in order of preference
    rtp_timeout: float = 30.0  # seconds without RTP before the call is ended ("rtp_timeout")
    jitter_ms: float = 20.0  # the jitter buffer's starting delay
    # SRTP keyed by SDES (RFC 4568): "off", "offer" (SRTP when the peer has it, else RTP) or
    # "require" (no SRTP, no call: 488). The keys ride in the SDP, so only over SIP/TLS unless
    # `srtp_insecure_signalling` (a proxy in front terminates TLS): then they are used, with a warning.
    srtp: str = "offer"
    srtp_insecure_signalling: bool = False

    def __post_init__(self) -> None:
        ports = tuple(self.rtp_ports)
        whole = len(ports) == 2 and all(isinstance(p, int) and not isinstance(p, bool) for p in ports)
        if not whole or not 0 < ports[0] or not ports[0] + 2 <= ports[1] <= 65535:
            raise ValueError(f"rtp_ports must be (low, high) with 0 < low, low + 2 <= high <= 65535, got {self.rtp_ports!r}")
        _set(self, "rtp_ports", ports)
        codecs = (self.codecs,) if isinstance(self.codecs, str) else tuple(self.codecs)
        unknown = [c for c in codecs if c not in SUPPORTED]
        if not codecs or unknown:
            raise ValueError(f"codecs must be a non-empty choice of {SUPPORTED}, got {self.codecs!r}")
        _set(self, "codecs", codecs)
        _positive("rtp_timeout", self.rtp_timeout)
        _positive("jitter_ms", self.jitter_ms, zero_ok=True)
        if self.srtp not in ("off", "offer", "require"):
            raise ValueError(f"srtp must be 'off', 'offer' or 'require', got {self.srtp!r}")
        if not isinstance(self.srtp_insecure_signalling, bool):
            raise ValueError(f"srtp_insecure_signalling must be a bool, got {self.srtp_insecure_signalling!r}")

    def srtp_mode(self, secure_signalling: bool) -> str:
        """The SRTP mode for one call (`sdp.negotiate`'s `srtp`): keys never cross plain signalling
        unless allowed; a call that requires SRTP there is refused instead."""
        if self.srtp == "off" or secure_signalling or self.srtp_insecure_signalling:
            return self.srtp
        return "refuse" if self.srtp == "require" else "off"


@dataclass(frozen=True)
class TimingConfig:
    """How long the endpoint waits: SIP's transaction timers and its own pauses."""

    sip: Timers = Timers()  # RFC 3261 T1/T2/T4/D (Timer B and friends are 64·T1)
    answer_delay: float = 0.05  # between 180 Ringing and 200 OK
    hangup_wait: float = 4.0  # for the answer to a BYE or NOTIFY before giving up on it
    refer_ring_timeout: float = 30.0  # a REFER we obey: how long its target may ring
    session: SessionTimerConfig = SessionTimerConfig()  # RFC 4028 session timers we ask for and accept

    def __post_init__(self) -> None:
        if not isinstance(self.sip, Timers):
            raise ValueError(f"sip must be a telephony.Timers, got {self.sip!r}")
        _positive("answer_delay", self.answer_delay, zero_ok=True)
        _positive("hangup_wait", self.hangup_wait)
        _positive("refer_ring_timeout", self.refer_ring_timeout)


@dataclass(frozen=True)
class AdmissionConfig:
    """Which new calls and registrations get in."""

    max_calls: int = 200  # live dialogs at once; beyond it an INVITE gets 503 (0 refuses every call)
    allow: tuple[str, ...] | None = None  # source networks that may INVITE or REGISTER; None: any
    limit_exempt: tuple[str, ...] = ()  # sources the INVITE rate limit does not count (a proxy in front)

    def __post_init__(self) -> None:
        if not isinstance(self.max_calls, int) or isinstance(self.max_calls, bool) or self.max_calls < 0:
            raise ValueError(f"max_calls must be an int >= 0, got {self.max_calls!r}")
        if self.allow is not None:
            _set(self, "allow", (self.allow,) if isinstance(self.allow, str) else tuple(self.allow))
            _networks("allow", self.allow)
        _set(self, "limit_exempt", (self.limit_exempt,) if isinstance(self.limit_exempt, str) else tuple(self.limit_exempt))
        _networks("limit_exempt", self.limit_exempt)

    @cached_property
    def allow_networks(self) -> tuple[Network, ...] | None:
        return _networks("allow", self.allow) if self.allow is not None else None

    @cached_property
    def exempt_networks(self) -> tuple[Network, ...]:
        return _networks("limit_exempt", self.limit_exempt)

    def allowed(self, ip: str) -> bool:
        """May `ip` call or register? (Anything not an IP address may not, once `allow` is set.)"""
        return self.allow_networks is None or _within(ip, self.allow_networks)

    def exempt(self, ip: str) -> bool:
        """Is `ip` outside the INVITE rate limit?"""
        return _within(ip, self.exempt_networks)


def _within(ip: str, networks: tuple[Network, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in networks)


@dataclass(frozen=True)
class TlsConfig:
    """SIP over TLS (optional): a listener with our certificate, and trust for calls out over TLS."""

    server: ssl.SSLContext | None = None  # certificate and key: listen for TLS on `port`
    port: int = 0  # 0: any free port (read `SipEndpoint.tls_port` after start)
    host: str | None = None  # where the TLS listener binds; None: the endpoint's host
    client: ssl.SSLContext | None = None  # verifies the far end for calls to `;transport=tls` / sips: URIs

    def __post_init__(self) -> None:
        for name in ("server", "client"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, ssl.SSLContext):
                raise ValueError(f"tls {name} must be an ssl.SSLContext, got {type(value).__name__}")
        _port("tls port", self.port)
        if self.server is None and (self.port or self.host):
            raise ValueError("a TLS port or host is set but there is no server context (TlsConfig.server)")


@dataclass(frozen=True)
class EndpointConfig:
    """Where the endpoint listens, what it calls itself, and the groups above."""

    host: str  # bind address for SIP (UDP and TCP) and RTP
    port: int  # 0: any free port (read `SipEndpoint.port` after start)
    advertise: str | None = None  # the address in Via/Contact/From; None: host (127.0.0.1 for a wildcard)
    media_host: str | None = None  # the address in SDP c=; None: the advertised one
    user: str = "ivr"  # the user part of our Contact and From
    user_agent: str = "ivr-triage"  # Server and User-Agent header value
    tcp: bool = True  # SIP over TCP on the same port as UDP
    media: MediaConfig = field(default_factory=MediaConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    admission: AdmissionConfig = field(default_factory=AdmissionConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"host must be an address to bind, got {self.host!r}")
        _port("port", self.port)
        for name in ("advertise", "media_host"):
            value = getattr(self, name)
            if value == "":  # empty, as from an unset setting: the default, as it always was
                value = None
                _set(self, name, value)
            if value is not None and (not isinstance(value, str) or not value or any(c in value for c in " \r\n")):
                raise ValueError(f"{name} must be a host name or address, got {value!r}")
        if not isinstance(self.user, str) or not self.user or any(c in self.user for c in " \t\r\n@:;<>\""):
            raise ValueError(f"user must be a SIP user part (no spaces, '@', ':', ';', '<', '>'), got {self.user!r}")
        if not isinstance(self.user_agent, str) or "\r" in self.user_agent or "\n" in self.user_agent:
            raise ValueError(f"user_agent must be one line of text, got {self.user_agent!r}")
        for name, kind in (("media", MediaConfig), ("timing", TimingConfig), ("admission", AdmissionConfig),
                           ("tls", TlsConfig)):
            if not isinstance(getattr(self, name), kind):
                raise ValueError(f"{name} must be a {kind.__name__}, got {getattr(self, name)!r}")

    @property
    def advertised_host(self) -> str:
        """The host peers reach us at, as written in Via, Contact and From."""
        return self.advertise or (self.host if self.host not in ("0.0.0.0", "::") else "127.0.0.1")

    @property
    def advertised_media_host(self) -> str:
        """The host written in our SDP's c= line."""
        return self.media_host or self.advertised_host
