"""RTP and RTCP packets (RFC 3550) as pure parse/build functions, plus receive statistics.

Sequence numbers and timestamps wrap (16 and 32 bits); `ReceiveStats` extends sequence numbers
the way RFC 3550 Appendix A.1 does, so loss and jitter figures in our RTCP receiver reports
stay right across wraps and through a peer restarting its stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import struct

RTP_VERSION = 2
RTCP_SR, RTCP_RR, RTCP_SDES, RTCP_BYE = 200, 201, 202, 203


class RtpError(ValueError):
    """A datagram that is not a valid RTP/RTCP packet (dropped by the media layer)."""


@dataclass
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: list[int] = field(default_factory=list)

    def serialize(self) -> bytes:
        first = (RTP_VERSION << 6) | len(self.csrc)
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        head = struct.pack("!BBHII", first, second, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc & 0xFFFFFFFF)
        return head + b"".join(struct.pack("!I", c) for c in self.csrc) + self.payload


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4: RTCP packet types 192-223 sit where RTP has marker+payload type."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def parse_rtp(data: bytes) -> RtpPacket:
    if len(data) < 12:
        raise RtpError("RTP packet shorter than its header")
    first, second, seq, ts, ssrc = struct.unpack_from("!BBHII", data)
    if first >> 6 != RTP_VERSION:
        raise RtpError("not RTP version 2")
    cc = first & 0x0F
    offset = 12 + 4 * cc
    if len(data) < offset:
        raise RtpError("truncated CSRC list")
    csrc = list(struct.unpack_from(f"!{cc}I", data, 12)) if cc else []
    if first & 0x10:  # header extension: skip it
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: the last octet says how much
        pad = data[-1]
        if pad == 0 or pad > end - offset:
            raise RtpError("bad padding")
        end -= pad
    if offset > end:
        raise RtpError("truncated RTP packet")
    return RtpPacket(second & 0x7F, seq, ts, ssrc, bytes(data[offset:end]), bool(second & 0x80), csrc)


# ---- receive statistics (RFC 3550 A.1, A.3, A.8) ------------------------------------------

MAX_DROPOUT = 3000
MAX_MISORDER = 100
SEQ_MOD = 1 << 16


@dataclass
class ReceiveStats:
    """Per-source sequence tracking: extended highest sequence, loss, interarrival jitter."""

    clock_rate: int = 8000
    base_seq: int = -1
    max_seq: int = 0
    cycles: int = 0
    bad_seq: int = SEQ_MOD + 1
    received: int = 0
    expected_prior: int = 0
    received_prior: int = 0
    jitter: float = 0.0
    _transit: float | None = None

    def update(self, seq: int, timestamp: int | None = None, arrival_s: float | None = None) -> int | None:
        """Account for one packet; returns its extended sequence number, or None if rejected."""
        if self.base_seq < 0:
            self._reset(seq)
            self.received = 1
            self._jitter(timestamp, arrival_s)
            return self.cycles + seq
        udelta = (seq - self.max_seq) % SEQ_MOD
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += SEQ_MOD
            self.max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            if seq == self.bad_seq:  # two sequential packets after a big jump: the source restarted
                self._reset(seq)
            else:
                self.bad_seq = (seq + 1) % SEQ_MOD
                return None
        else:  # duplicate or reordered: its cycle may be the previous one
            ext = self.cycles + seq
            if seq > self.max_seq:
                ext -= SEQ_MOD
            self.received += 1
            return ext
        self.received += 1
        self._jitter(timestamp, arrival_s)
        return self.cycles + seq

    def _reset(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.expected_prior = self.received_prior = 0

    def _jitter(self, timestamp: int | None, arrival_s: float | None) -> None:
        if timestamp is None or arrival_s is None:
            return
        transit = arrival_s * self.clock_rate - timestamp
        if self._transit is not None:
            d = abs(transit - self._transit)
            self.jitter += (d - self.jitter) / 16
        self._transit = transit

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1 if self.base_seq >= 0 else 0

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)

    def fraction_lost(self) -> int:
        """8-bit fraction lost since the previous call (for one report block)."""
        expected_interval = self.expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior, self.received_prior = self.expected, self.received
        lost = expected_interval - received_interval
        return 0 if expected_interval <= 0 or lost <= 0 else min(255, (lost << 8) // expected_interval)


# ---- RTCP -----------------------------------------------------------------------------------

@dataclass
class ReportBlock:
    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_seq: int
    jitter: int
    lsr: int = 0
    dlsr: int = 0

    def pack(self) -> bytes:
        lost = max(-(1 << 23), min((1 << 23) - 1, self.cumulative_lost)) & 0xFFFFFF
        return struct.pack(
            "!IIIIII", self.ssrc, (self.fraction_lost << 24) | lost, self.highest_seq & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF, self.lsr, self.dlsr,
        )


@dataclass
class RtcpPacket:
    packet_type: int
    ssrc: int
    ntp: int = 0
    rtp_timestamp: int = 0
    packet_count: int = 0
    octet_count: int = 0
    reports: list[ReportBlock] = field(default_factory=list)


def _header(pt: int, count: int, body: bytes) -> bytes:
    return struct.pack("!BBH", 0x80 | count, pt, (len(body) + 4) // 4 - 1) + body


def build_sr(ssrc: int, ntp: int, rtp_ts: int, packets: int, octets: int, reports: list[ReportBlock] = ()) -> bytes:
    body = struct.pack("!IQIII", ssrc, ntp, rtp_ts & 0xFFFFFFFF, packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)
    return _header(RTCP_SR, len(reports), body + b"".join(r.pack() for r in reports))


def build_rr(ssrc: int, reports: list[ReportBlock] = ()) -> bytes:
    return _header(RTCP_RR, len(reports), struct.pack("!I", ssrc) + b"".join(r.pack() for r in reports))


def build_sdes_cname(ssrc: int, cname: str) -> bytes:
    item = bytes([1, len(cname.encode()[:255])]) + cname.encode()[:255]
    chunk = struct.pack("!I", ssrc) + item + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return _header(RTCP_SDES, 1, chunk)


def build_bye(ssrc: int) -> bytes:
    return _header(RTCP_BYE, 1, struct.pack("!I", ssrc))


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Parse a compound RTCP packet: SR, RR and BYE are decoded, other types skipped."""
    out: list[RtcpPacket] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 4:
            raise RtcpError("truncated RTCP header")
        first, pt, length = struct.unpack_from("!BBH", data, offset)
        if first >> 6 != RTP_VERSION:
            raise RtcpError("not RTCP version 2")
        end = offset + 4 * (length + 1)
        if end > len(data):
            raise RtcpError("RTCP length runs past the packet")
        count = first & 0x1F
        body = data[offset + 4 : end]
        if pt in (RTCP_SR, RTCP_RR, RTCP_BYE) and len(body) < 4:
            raise RtcpError("RTCP packet without SSRC")
        if pt == RTCP_SR:
            if len(body) < 24 + 24 * count:
                raise RtcpError("truncated SR")
            ssrc, ntp, rts, pc, oc = struct.unpack_from("!IQIII", body)
            out.append(RtcpPacket(pt, ssrc, ntp, rts, pc, oc, _blocks(body, 24, count)))
        elif pt == RTCP_RR:
            if len(body) < 4 + 24 * count:
                raise RtcpError("truncated RR")
            out.append(RtcpPacket(pt, struct.unpack_from("!I", body)[0], reports=_blocks(body, 4, count)))
        elif pt == RTCP_BYE:
            out.append(RtcpPacket(pt, struct.unpack_from("!I", body)[0]))
        offset = end
    return out


def _blocks(body: bytes, start: int, count: int) -> list[ReportBlock]:
    blocks = []
    for i in range(count):
        ssrc, fl, hs, jit, lsr, dlsr = struct.unpack_from("!IIIIII", body, start + 24 * i)
        lost = fl & 0xFFFFFF
        if lost & 0x800000:
            lost -= 1 << 24
        blocks.append(ReportBlock(ssrc, fl >> 24, lost, hs, jit, lsr, dlsr))
    return blocks


class RtcpError(RtpError):
    pass
