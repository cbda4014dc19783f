"""The RTP session on real sockets: drift-free 20 ms pacing with silence when the queue runs dry,
over one second and over ten, and no caller audio lost when our own event loop stalls."""

import asyncio
import time

import numpy as np

from telephony.g711 import ulaw_encode
from telephony.media import RtpSession, bind_rtp_pair
from telephony.rtp import parse_rtp
from telephony.sdp import MediaParams

from tests.telephony.conftest import Peer


def tone(freq: float, seconds: float, amp: float = 6000) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (np.sin(2 * np.pi * freq * t) * amp).astype("<i2").tobytes()


async def test_media_pacing_is_drift_free_and_sends_silence():
    rtp, rtcp, port = await bind_rtp_pair("127.0.0.1", (52000, 54000))
    sink = Peer()
    loop = asyncio.get_running_loop()
    got: list[tuple[float, bytes]] = []
    sink.datagram_received = lambda data, addr: got.append((time.monotonic(), data))
    transport, _ = await loop.create_datagram_endpoint(lambda: sink, local_addr=("127.0.0.1", 0))
    sink_port = transport.get_extra_info("sockname")[1]
    media = RtpSession(rtp, rtcp, port)
    media.configure(MediaParams([("PCMU", 0)], 101, ("127.0.0.1", sink_port), "sendrecv"))
    tone = (np.sin(np.arange(1600) / 8000 * 2 * np.pi * 300) * 5000).astype("<i2").tobytes()
    media.play(tone)  # 200 ms
    media.start()
    await asyncio.sleep(1.0)
    await media.close()
    transport.close()
    pkts = [(t, parse_rtp(d)) for t, d in got]
    assert 45 <= len(pkts) <= 52
    seqs = [p.sequence for _, p in pkts]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:]))
    assert all((b.timestamp - a.timestamp) % 2**32 == 160 for (_, a), (_, b) in zip(pkts, pkts[1:]))
    span = pkts[-1][0] - pkts[0][0]
    assert abs(span - 0.02 * (len(pkts) - 1)) < 0.03  # absolute deadlines: no accumulated drift
    assert pkts[0][1].payload == ulaw_encode(np.frombuffer(tone[:320], "<i2"))
    assert pkts[0][1].marker and not pkts[1][1].marker
    assert set(pkts[-1][1].payload) == {0xFF}  # µ-law silence once the queue ran dry


async def test_wire_pacing_over_ten_seconds():
    """Outgoing RTP measured by a receiving socket: mean 20 ms, p99 close, no cumulative drift."""
    rtp, rtcp, port = await bind_rtp_pair("127.0.0.1", (59000, 59998))
    loop = asyncio.get_running_loop()
    got: list[tuple[float, bytes]] = []

    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            got.append((time.monotonic(), data))

    transport, _ = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    media = RtpSession(rtp, rtcp, port)
    media.configure(MediaParams([("PCMA", 8)], 101, ("127.0.0.1", transport.get_extra_info("sockname")[1]), "sendrecv"))
    media.play(tone(440, 10.0))
    media.start()
    await asyncio.sleep(10.05)
    await media.close()
    transport.close()
    times = np.array([t for t, _ in got])
    pkts = [parse_rtp(d) for _, d in got]
    assert 495 <= len(pkts) <= 504
    gaps_ms = np.diff(times) * 1000
    assert abs(gaps_ms.mean() - 20) < 0.2
    assert np.percentile(gaps_ms, 99) < 26 and np.percentile(gaps_ms, 1) > 14
    drift_ms = (times - times[0] - 0.02 * np.arange(len(times))) * 1000
    assert np.max(np.abs(drift_ms)) < 20
    assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in zip(pkts, pkts[1:]))
    assert all((b.timestamp - a.timestamp) % 2**32 == 160 for a, b in zip(pkts, pkts[1:]))
    assert {p.payload_type for p in pkts} == {8}


async def test_a_stall_of_our_own_loop_loses_no_caller_audio():
    """The caller keeps sending while our event loop is busy for 120 ms; afterwards the packets
    that queued in the socket must reach the jitter buffer before the catch-up ticks pop it,
    or they are counted late and dropped (audio lost, and the buffer's delay grown for nothing)."""
    import socket
    import threading

    from telephony.rtp import RtpPacket

    rtp, rtcp, port = await bind_rtp_pair("127.0.0.1", (52000, 54000))
    media = RtpSession(rtp, rtcp, port)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    media.configure(MediaParams([("PCMU", 0)], 101, peer.getsockname(), "sendrecv"))
    media.start()
    n_packets = 40
    tone = ulaw_encode((np.sin(np.arange(160) / 8000 * 2 * np.pi * 300) * 8000).astype(np.int16))

    def send() -> None:  # a paced caller in its own thread: it goes on while our loop stalls
        t0 = time.monotonic()
        for i in range(n_packets):
            time.sleep(max(0.0, t0 + i * 0.02 - time.monotonic()))
            peer.sendto(RtpPacket(0, i, i * 160, 1234, tone, i == 0).serialize(), ("127.0.0.1", port))

    sender = threading.Thread(target=send)
    sender.start()
    voiced = 0
    for i in range(n_packets + 10):
        frame = await asyncio.wait_for(media.frames.get(), 2)
        voiced += bool(np.any(np.frombuffer(frame, dtype=np.int16)))
        if i == 15:
            time.sleep(0.12)  # our own loop busy (a long callback), not a wait for anything
    sender.join()
    await media.close()
    peer.close()
    assert media.jb.late == 0 and media.jb.grown == 0
    assert voiced >= n_packets - 1  # every packet played (the first may be halved by start-up)
