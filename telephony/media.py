"""One call's RTP session: paced G.711 sending, symmetric RTP, jitter buffer, DTMF, RTCP.

A single clock task ticks every 20 ms at absolute deadlines (start + n * 20 ms on the monotonic
clock, so scheduling delays never accumulate into drift). Each tick sends one packet (queued
speech, or G.711 silence when nothing is queued: many PBXs and NATs treat a silent stream as a
dead call) and pops one frame from the jitter buffer for the application, so the application
sees a steady 50 frames a second whatever the network does. Packets go to wherever the peer's
packets come from (symmetric RTP, RFC 4961), which is what gets audio through NAT.

When the offer/answer agreed SRTP (`MediaParams.srtp`), every packet is protected on its way
out and unprotected on its way in (`srtp.SrtpContext`), RTCP as SRTCP; a packet that does not
authenticate, or replays one already seen, is dropped and counted and never moves the latch.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from typing import Callable


from . import g711
from .dtmf import DtmfReceiver, event_packets
from .jitter_buffer import JitterBuffer
from .rtp import ReceiveStats, ReportBlock, RtpError, RtpPacket, build_rr, build_sdes_cname, build_sr, is_rtcp, parse_rtp
from .sdp import MediaParams
from .srtp import SrtpContext

log = logging.getLogger(__name__)

FRAME_MS = 20
FRAME_SAMPLES = 160
FRAME_BYTES = 2 * FRAME_SAMPLES
SILENCE_FRAME = bytes(FRAME_BYTES)
_DECODE = {"PCMU": g711.ulaw_decode, "PCMA": g711.alaw_decode}
_ENCODE = {"PCMU": g711.ulaw_encode, "PCMA": g711.alaw_encode}
_NTP_EPOCH = 2208988800


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, handler: Callable[[bytes, tuple], None]) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        try:
            self.handler(data, addr)
        except Exception:
            log.exception("RTP handler failed")

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %s", exc)


async def bind_rtp_pair(host: str, port_range: tuple[int, int]) -> tuple[_Proto, _Proto, int]:
    """Bind RTP on a random even port in `port_range` and RTCP on the next one."""
    loop = asyncio.get_running_loop()
    lo, hi = port_range
    for _ in range(64):
        port = random.randrange(lo // 2, hi // 2) * 2
        rtp = _Proto(lambda d, a: None)
        try:
            await loop.create_datagram_endpoint(lambda: rtp, local_addr=(host, port))
        except OSError:
            continue
        rtcp = _Proto(lambda d, a: None)
        try:
            await loop.create_datagram_endpoint(lambda: rtcp, local_addr=(host, port + 1))
        except OSError:
            if rtp.transport:
                rtp.transport.close()
            continue
        return rtp, rtcp, port
    raise OSError(f"no free RTP port pair in {port_range}")


class RtpSession:
    def __init__(self, rtp: _Proto, rtcp: _Proto, local_port: int, *, rtp_timeout: float = 30.0,
                 jitter_ms: float = 20.0, max_jitter_ms: float = 200.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._rtp, self._rtcp = rtp, rtcp
        rtp.handler = self._on_rtp
        rtcp.handler = self._on_rtcp
        self.local_port = local_port
        self.params: MediaParams | None = None
        self._decoders: dict[int, Callable[[bytes], object]] = {}
        self.remote: tuple[str, int] | None = None
        self.remote_rtcp: tuple[str, int] | None = None
        self._latched = False
        self.rtp_timeout = rtp_timeout
        self.clock = clock
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts = secrets.randbits(32)
        self.jb = JitterBuffer(FRAME_SAMPLES, target_ms=jitter_ms, max_target_ms=max_jitter_ms)
        self.stats = ReceiveStats()
        self.remote_ssrc: int | None = None
        self.dtmf_rx = DtmfReceiver()
        self.frames: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.max_frames = 500  # 10 s of audio the application has not read yet
        self._playback = bytearray()
        self._dtmf_out: list[tuple[bytes, bool, bool]] = []  # (payload, marker, first of event)
        self._dtmf_ts = 0
        self.on_dtmf: Callable[[str], None] = lambda d: None
        self.on_timeout: Callable[[], None] = lambda: None
        # A tap on every RTP packet sent ("tx") or accepted ("rx"), with its clock time: how a
        # test client measures at the wire, before any jitter buffer. None: no tap.
        self.on_packet: Callable[[str, RtpPacket, float], None] | None = None
        # A tap on the datagrams themselves ("tx" as handed to the socket, "rx" as received, before
        # SRTP is undone; "rtcp": an RTCP packet accepted): what a test reads to see that the wire
        # carries no plain audio.
        self.on_wire: Callable[[str, bytes], None] | None = None
        self.srtp: SrtpContext | None = None
        self.last_rx = clock()
        self.packets_sent = self.octets_sent = 0
        self.packets_received = 0
        self._task: asyncio.Task | None = None
        self._closed = False

    # -- configuration --------------------------------------------------------------------------
    def configure(self, params: MediaParams) -> None:
        """Apply (re-)negotiated parameters; a changed remote address resets latching."""
        if self.remote != params.remote_addr:
            self._latched = False
            self.remote = params.remote_addr
            self.remote_rtcp = (params.remote_addr[0], params.remote_addr[1] + 1)
        if params.srtp is None:
            self.srtp = None
        elif self.srtp is None:
            self.srtp = SrtpContext(params.srtp)
        else:
            self.srtp.update(params.srtp)
        # payload type -> decoder, once per negotiation rather than a dict built every packet
        self._decoders = {pt: _DECODE[name] for name, pt in params.codecs if name in _DECODE}
        self.params = params

    @property
    def sending(self) -> bool:
        p = self.params
        return p is not None and p.direction in ("sendrecv", "sendonly") and self.remote is not None and self.remote[1] != 0

    @property
    def expects_media(self) -> bool:
        p = self.params
        return p is not None and p.direction in ("sendrecv", "recvonly")

    # -- application side -----------------------------------------------------------------------
    def play(self, pcm: bytes) -> None:
        if len(pcm) % 2:
            pcm = pcm[:-1]
        self._playback += pcm

    def clear_playback(self) -> None:
        self._playback.clear()

    def playback_queued_ms(self) -> float:
        return len(self._playback) / 16.0

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        packets = event_packets(digit, duration_ms)
        self._dtmf_out += [(p, m, i == 0) for i, (p, m) in enumerate(packets)]

    # -- receive ------------------------------------------------------------------------------
    def _on_rtp(self, data: bytes, addr) -> None:
        if self._closed or self.params is None:
            return
        if self.on_wire is not None:
            self.on_wire("rx", data)
        if is_rtcp(data):  # rtcp-mux
            self._on_rtcp(data, addr)
            return
        if self.srtp is not None:
            data = self.srtp.unprotect(data)
            if data is None:
                return
        try:
            pkt = parse_rtp(data)
        except RtpError:
            return
        decode = self._decoders.get(pkt.payload_type)
        if decode is None and pkt.payload_type != self.params.dtmf_pt:
            return
        if self.remote_ssrc != pkt.ssrc:
            if self.remote_ssrc is not None:
                self.jb.reset()
            self.remote_ssrc = pkt.ssrc
            self.stats = ReceiveStats()
        now = self.clock()
        if self.stats.update(pkt.sequence, pkt.timestamp, now) is None:
            return
        if self.on_packet is not None:
            self.on_packet("rx", pkt, now)
        self.last_rx = now
        self.packets_received += 1
        if (addr[0], addr[1]) != self.remote:  # symmetric RTP: answer where the media comes from
            self.remote = (addr[0], addr[1])
            self.remote_rtcp = (addr[0], addr[1] + 1)
        self._latched = True
        if pkt.payload_type == self.params.dtmf_pt:
            for digit in self.dtmf_rx.feed(pkt.timestamp, pkt.payload):
                self.on_dtmf(digit)
            return
        samples = decode(pkt.payload)
        self.jb.push(pkt.timestamp, samples, pkt.marker)

    def _on_rtcp(self, data: bytes, addr) -> None:
        if self._closed:  # RTCP is only used to learn where the peer's RTCP comes from
            return
        if self.srtp is not None and self.srtp.unprotect_rtcp(data) is None:
            return
        if self.on_wire is not None:
            self.on_wire("rtcp", data)  # an RTCP packet that passed (SRTCP: authenticated)
        self.remote_rtcp = (addr[0], addr[1])

    # -- the clock ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self.last_rx = self.clock()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        start = self.clock()
        n = 0
        next_rtcp = start + 1.0
        first = True
        try:
            while not self._closed:
                n += 1
                deadline = start + n * FRAME_MS / 1000
                delay = deadline - self.clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    if delay < -0.2:  # the loop stalled: skip the missed slots rather than burst
                        missed = int(-delay / (FRAME_MS / 1000))
                        n += missed
                        self.ts = (self.ts + missed * FRAME_SAMPLES) & 0xFFFFFFFF
                    # Behind schedule: let the packets that arrived meanwhile in before popping,
                    # or the catch-up pops find the buffer empty and those packets come "late".
                    await asyncio.sleep(0)
                self._tick(first)
                first = False
                now = self.clock()
                if now >= next_rtcp:
                    self._send_rtcp(now)
                    next_rtcp = now + 5.0
                if self.expects_media and now - self.last_rx > self.rtp_timeout:
                    log.info("RTP timeout after %.1f s", now - self.last_rx)
                    self.on_timeout()
                    return
        except asyncio.CancelledError:
            pass

    def _tick(self, first: bool) -> None:
        frame = self.jb.pop()
        pcm = frame.tobytes() if frame is not None else SILENCE_FRAME
        if self.frames.qsize() >= self.max_frames:
            try:
                self.frames.get_nowait()
            except asyncio.QueueEmpty:
                pass
        self.frames.put_nowait(pcm)
        out = bytes(self._playback[:FRAME_BYTES])
        del self._playback[:FRAME_BYTES]
        if not self.sending:
            self.ts = (self.ts + FRAME_SAMPLES) & 0xFFFFFFFF
            return
        p = self.params
        if self._dtmf_out and p.dtmf_pt is not None:
            payload, marker, new_event = self._dtmf_out.pop(0)
            if new_event:
                self._dtmf_ts = self.ts
            self._send(RtpPacket(p.dtmf_pt, self.seq, self._dtmf_ts, self.ssrc, payload, marker))
        else:
            if p.dtmf_pt is None:
                self._dtmf_out.clear()
            if len(out) < FRAME_BYTES:
                out += bytes(FRAME_BYTES - len(out))
            payload = _ENCODE[p.codec](out)
            self._send(RtpPacket(p.payload_type, self.seq, self.ts, self.ssrc, payload, first))
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + FRAME_SAMPLES) & 0xFFFFFFFF

    def _send(self, pkt: RtpPacket) -> None:
        if self._rtp.transport is None or self.remote is None:
            return
        data = pkt.serialize()
        if self.srtp is not None:
            data = self.srtp.protect(data)
        if self.on_wire is not None:
            self.on_wire("tx", data)
        self._rtp.transport.sendto(data, self.remote)
        if self.on_packet is not None:
            self.on_packet("tx", pkt, self.clock())
        self.packets_sent += 1
        self.octets_sent += len(pkt.payload)

    def _send_rtcp(self, now: float) -> None:
        if self._rtcp.transport is None or self.remote_rtcp is None or self.remote is None:
            return
        reports = []
        if self.remote_ssrc is not None:
            st = self.stats
            reports.append(ReportBlock(self.remote_ssrc, st.fraction_lost(), st.lost, st.extended_max, int(st.jitter)))
        wall = time.time() + _NTP_EPOCH
        ntp = (int(wall) << 32) | int((wall % 1) * (1 << 32))
        head = build_sr(self.ssrc, ntp, self.ts, self.packets_sent, self.octets_sent, reports) if self.packets_sent \
            else build_rr(self.ssrc, reports)
        data = head + build_sdes_cname(self.ssrc, "ivr")
        try:
            if self.srtp is not None:
                data = self.srtp.protect_rtcp(data)
            self._rtcp.transport.sendto(data, self.remote_rtcp)
        except OSError:
            pass

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        jb = self.jb
        log.info("rtp %d: jitter buffer at %d ms (grown %d, shed %d), %d late, %d concealed, %d dropped",
                 self.local_port, jb.target // 8, jb.grown, jb.shed, jb.late, jb.concealed, jb.dropped)
        if self.srtp is not None:
            c = self.srtp.counters
            log.info("rtp %d: SRTP %s, %d replayed and %d unauthenticated packets dropped",
                     self.local_port, self.srtp.keys.suite, c.replayed, c.rejected)
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except BaseException:
                pass
        for proto in (self._rtp, self._rtcp):
            if proto.transport:
                proto.transport.close()
        self.frames.put_nowait(None)
