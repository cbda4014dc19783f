"""SDP (RFC 4566) and the offer/answer model (RFC 3264) for G.711 audio with RFC 4733 DTMF,
and SRTP keyed by SDES (RFC 4568, `sdes`).

The endpoint speaks only PCMU, PCMA and telephone-event at 8 kHz. `answer_offer` keeps the
offer's codec order filtered by what we support (the caller's preference wins, as RFC 3264
§6.1 expects of an answerer), rejects every non-audio stream with port 0, mirrors the
direction (hold), and returns None when nothing is common, which the endpoint turns into 488.

SRTP is chosen per call by a mode (`MediaConfig.srtp_mode`): "off" ignores `a=crypto` and
declines RTP/SAVP; "offer" takes SRTP when the offer carries a usable crypto line, in RTP/SAVP
or in RTP/AVP as many phones offer it ("best effort"), and plain RTP otherwise; "require"
takes only SRTP; "refuse" (SRTP required but the signalling is not TLS) takes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import ipaddress

from .sdes import Crypto, SrtpKeys, accept, choose, crypto_lines

STATIC_PT = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
SUPPORTED = ("PCMU", "PCMA")
RTP_PROTOS = ("RTP/AVP", "RTP/AVPF")
SRTP_PROTOS = ("RTP/SAVP", "RTP/SAVPF")
SRTP_MODES = ("off", "offer", "require", "refuse")
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_REVERSE = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}


class SdpError(ValueError):
    """An SDP body that cannot be understood (the endpoint answers 400 or 488)."""


@dataclass
class Media:
    kind: str  # "audio", "video", ...
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)

    def attr(self, name: str) -> str | None:
        for k, v in self.attributes:
            if k == name:
                return v if v is not None else ""
        return None

    def rtpmap(self) -> dict[int, tuple[str, int]]:
        """Payload type → (encoding name, clock rate); static types filled in."""
        out: dict[int, tuple[str, int]] = {}
        for fmt in self.formats:
            if fmt.isdigit() and int(fmt) in STATIC_PT:
                out[int(fmt)] = STATIC_PT[int(fmt)]
        for k, v in self.attributes:
            if k == "rtpmap" and v:
                pt, _, enc = v.partition(" ")
                name, _, rest = enc.strip().partition("/")
                rate = rest.split("/")[0]
                if pt.isdigit() and rate.isdigit():
                    out[int(pt)] = (name, int(rate))
        return out

    @property
    def direction(self) -> str:
        for k, _ in self.attributes:
            if k in DIRECTIONS:
                return k
        return ""


@dataclass
class SessionDescription:
    origin_user: str = "-"
    session_id: int = 0
    session_version: int = 0
    origin_addr: str = "127.0.0.1"
    session_name: str = "-"
    connection: str | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)

    def direction(self, m: Media) -> str:
        if m.direction:
            return m.direction
        for k, _ in self.attributes:
            if k in DIRECTIONS:
                return k
        return "sendrecv"

    def media_address(self, m: Media) -> str | None:
        return m.connection or self.connection

    def serialize(self) -> bytes:
        ip = "IP6" if ":" in self.origin_addr else "IP4"
        lines = [
            "v=0",
            f"o={self.origin_user} {self.session_id} {self.session_version} IN {ip} {self.origin_addr}",
            f"s={self.session_name}",
        ]
        if self.connection:
            lines.append(f"c=IN {'IP6' if ':' in self.connection else 'IP4'} {self.connection}")
        lines.append("t=0 0")
        lines += [f"a={k}" if v is None else f"a={k}:{v}" for k, v in self.attributes]
        for m in self.media:
            lines.append(f"m={m.kind} {m.port} {m.proto} {' '.join(m.formats)}")
            if m.connection:
                lines.append(f"c=IN {'IP6' if ':' in m.connection else 'IP4'} {m.connection}")
            lines += [f"a={k}" if v is None else f"a={k}:{v}" for k, v in m.attributes]
        return ("\r\n".join(lines) + "\r\n").encode()


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) < 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"bad c= line: {value!r}")
    return parts[2].split("/")[0]


def parse_sdp(body: bytes | str) -> SessionDescription:
    """Parse an SDP body. Raises `SdpError` on anything malformed."""
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8") from exc
    sd = SessionDescription()
    seen_v = seen_o = False
    current: Media | None = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip("\r")
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise SdpError(f"bad SDP line: {line[:60]!r}")
        kind, value = line[0], line[2:]
        if kind == "v":
            if value.strip() != "0":
                raise SdpError("unsupported SDP version")
            seen_v = True
        elif kind == "o":
            parts = value.split()
            if len(parts) != 6 or not parts[1].isdigit() or not parts[2].isdigit():
                raise SdpError(f"bad o= line: {value!r}")
            sd.origin_user, sd.origin_addr = parts[0], parts[5]
            sd.session_id, sd.session_version = int(parts[1]), int(parts[2])
            seen_o = True
        elif kind == "s" and current is None:
            sd.session_name = value
        elif kind == "c":
            if current is None:
                sd.connection = _connection(value)
            else:
                current.connection = _connection(value)
        elif kind == "m":
            parts = value.split()
            if len(parts) < 4 or not parts[1].split("/")[0].isdigit():
                raise SdpError(f"bad m= line: {value!r}")
            port = int(parts[1].split("/")[0])
            if port > 65535:
                raise SdpError("bad media port")
            current = Media(parts[0], port, parts[2], parts[3:])
            sd.media.append(current)
        elif kind == "a":
            name, colon, val = value.partition(":")
            attr = (name, val if colon else None)
            (current.attributes if current is not None else sd.attributes).append(attr)
    if not seen_v or not seen_o:
        raise SdpError("SDP without v= or o= line")
    for m in sd.media:
        addr = sd.media_address(m)
        if m.port and addr is None:
            raise SdpError("media without a connection address")
        if addr is not None:
            try:
                ipaddress.ip_address(addr)
            except ValueError as exc:  # FQDNs in c= are legal but we will not resolve them
                raise SdpError(f"connection address is not an IP address: {addr!r}") from exc
    return sd


@dataclass
class MediaParams:
    """What one side agreed to: codecs in preference order, DTMF, where to send, direction."""

    codecs: list[tuple[str, int]]  # (name, payload type), first is the one we send
    dtmf_pt: int | None
    remote_addr: tuple[str, int]
    direction: str  # our direction, as written in our SDP
    ptime: int = 20
    srtp: SrtpKeys | None = None  # None: plain RTP
    proto: str = "RTP/AVP"  # the m= line's transport, echoed in the answer
    media_index: int = 0  # which m= line of the offer was taken

    def __repr__(self) -> str:  # keys stay out of logs (SrtpKeys' repr has none)
        return (f"MediaParams(codecs={self.codecs}, dtmf_pt={self.dtmf_pt}, remote={self.remote_addr}, "
                f"direction={self.direction!r}, srtp={self.srtp!r})")

    @property
    def codec(self) -> str:
        return self.codecs[0][0]

    @property
    def payload_type(self) -> int:
        return self.codecs[0][1]


def _usable(m: Media, mode: str) -> bool:
    """May this m= line be taken under `mode`? (SAVP needs a usable crypto line and SRTP on.)"""
    if m.kind != "audio" or m.port == 0:
        return False
    proto = m.proto.upper()
    if proto in RTP_PROTOS:
        return mode in ("off", "offer") or (mode == "require" and bool(crypto_lines(m.attributes)))
    if proto in SRTP_PROTOS:
        return mode in ("offer", "require") and bool(crypto_lines(m.attributes))
    return False


def _audio(sd: SessionDescription, mode: str = "off") -> tuple[int, Media] | None:
    for i, m in enumerate(sd.media):
        if _usable(m, mode):
            return i, m
    return None


def negotiate(offer: SessionDescription, supported: tuple[str, ...] = SUPPORTED, dtmf: bool = True,
              srtp: str = "off", local_key: bytes | None = None) -> MediaParams | None:
    """Pick codecs (the offer's order, filtered by `supported`) and, per the SRTP mode, a crypto
    line and our key for it (`local_key`: keep ours across a re-INVITE). None → 488."""
    if srtp not in SRTP_MODES:
        raise ValueError(f"srtp mode must be one of {SRTP_MODES}, got {srtp!r}")
    found = _audio(offer, srtp)
    if found is None:
        return None
    index, audio = found
    params = _codecs(offer, audio, supported, dtmf)
    if params is None:
        return None
    params.media_index, params.proto = index, audio.proto.upper()
    if srtp in ("offer", "require"):
        chosen = choose(crypto_lines(audio.attributes), local_key)
        if chosen is not None:
            params.srtp = chosen[1]
    return params


def _codecs(sd: SessionDescription, audio: Media, supported: tuple[str, ...], dtmf: bool) -> MediaParams | None:
    rtpmap = audio.rtpmap()
    wanted = {s.upper() for s in supported}
    codecs: list[tuple[str, int]] = []
    dtmf_pt = None
    for fmt in audio.formats:
        if not fmt.isdigit() or int(fmt) not in rtpmap:
            continue
        pt = int(fmt)
        name, rate = rtpmap[pt]
        if rate != 8000:
            continue
        if name.upper() in wanted and all(n != name.upper() for n, _ in codecs):
            codecs.append((name.upper(), pt))
        elif name.lower() == "telephone-event" and dtmf and dtmf_pt is None:
            dtmf_pt = pt
    if not codecs:
        return None
    ptime = audio.attr("ptime")
    return MediaParams(
        codecs,
        dtmf_pt,
        (sd.media_address(audio) or "0.0.0.0", audio.port),
        _REVERSE[sd.direction(audio)],
        int(ptime) if ptime and ptime.isdigit() and 10 <= int(ptime) <= 60 else 20,
    )


def _audio_media(params: MediaParams, port: int, direction: str, fmtp: str = "0-16", proto: str = "RTP/AVP",
                 crypto: tuple[Crypto, ...] = ()) -> Media:
    attrs: list[tuple[str, str | None]] = [("rtpmap", f"{pt} {name}/8000") for name, pt in params.codecs]
    formats = [str(pt) for _, pt in params.codecs]
    if params.dtmf_pt is not None:
        formats.append(str(params.dtmf_pt))
        attrs += [("rtpmap", f"{params.dtmf_pt} telephone-event/8000"), ("fmtp", f"{params.dtmf_pt} {fmtp}")]
    attrs += [("ptime", "20"), (direction, None)]
    attrs += [("crypto", c.value()) for c in crypto]
    return Media("audio", port, proto, formats, None, attrs)


def build_answer(
    offer: SessionDescription, params: MediaParams, local_ip: str, local_port: int, session_id: int, version: int,
    direction: str | None = None,
) -> SessionDescription:
    """Our answer: one m= line per offered one (RFC 3264 §6), only the one `negotiate` took accepted,
    in its own transport (RTP/AVP or RTP/SAVP) with our crypto line when SRTP was agreed."""
    answer = SessionDescription("ivr", session_id, version, local_ip, "ivr", local_ip)
    keys = params.srtp
    crypto = (Crypto(keys.tag, keys.suite, keys.local_key),) if keys is not None else ()
    for i, m in enumerate(offer.media):
        if i == params.media_index:
            answer.media.append(_audio_media(params, local_port, direction or params.direction,
                                             proto=m.proto, crypto=crypto))
        else:
            answer.media.append(Media(m.kind, 0, m.proto, m.formats[:1] or ["0"]))
    return answer


def build_offer(
    local_ip: str, local_port: int, session_id: int, version: int, codecs: tuple[str, ...] = SUPPORTED,
    dtmf_pt: int | None = 101, direction: str = "sendrecv", crypto: tuple[Crypto, ...] = (), require_srtp: bool = False,
) -> SessionDescription:
    """Our offer; with `crypto` lines, in RTP/AVP (best effort: a peer without SRTP still answers)
    or, when SRTP is required, in RTP/SAVP."""
    pts = {"PCMU": 0, "PCMA": 8}
    params = MediaParams([(c, pts[c]) for c in codecs], dtmf_pt, ("0.0.0.0", 0), direction)
    sd = SessionDescription("ivr", session_id, version, local_ip, "ivr", local_ip)
    proto = "RTP/SAVP" if crypto and require_srtp else "RTP/AVP"
    sd.media.append(_audio_media(params, local_port, direction, proto=proto, crypto=crypto))
    return sd


def accept_answer(answer: SessionDescription, offered: tuple[str, ...] = SUPPORTED,
                  crypto: tuple[Crypto, ...] = (), require_srtp: bool = False) -> MediaParams | None:
    """Read the answer to our offer: the answerer's first codec that we offered and, when we
    offered `crypto`, the line it echoed (by tag and suite). None: no common codec, or SRTP
    required (or answered in RTP/SAVP) without a usable crypto line."""
    found = _audio(answer, "offer" if crypto else "off")
    if found is None:
        return None
    index, audio = found
    params = _codecs(answer, audio, offered, True)
    if params is None:
        return None
    params.media_index, params.proto = index, audio.proto.upper()
    if crypto:
        params.srtp = accept(crypto_lines(audio.attributes), crypto)
    if params.srtp is None and (require_srtp or params.proto in SRTP_PROTOS):
        return None
    return params
