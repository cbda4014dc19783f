"""The per-packet receive path stays small: a received RTP packet allocates no large buffer
(what it keeps is its 160 decoded samples in the jitter buffer), and the benchmark's
measurement runs on real datagrams through a real session."""

from __future__ import annotations

import asyncio
import tracemalloc

from ivr.tools.bench_rtp import measure, speech_packets
from telephony.media import RtpSession, bind_rtp_pair
from telephony.sdp import MediaParams

PACKET_BYTES_MAX = 4096  # a frame decoded is 320 bytes; a per-packet buffer of kilobytes is a regression


async def test_a_received_packet_allocates_no_large_buffer():
    rtp, rtcp, port = await bind_rtp_pair("127.0.0.1", (41000, 41998))
    media = RtpSession(rtp, rtcp, port)
    media.configure(MediaParams([("PCMU", 0)], 101, ("127.0.0.1", 9), "sendrecv"))
    packets = speech_packets(300)
    for data in packets[:50]:  # warm: first-use allocations (stats, caches) are not per packet
        rtp.datagram_received(data, ("127.0.0.1", 9))
        media.jb.pop()
    peaks = []
    tracemalloc.start()
    try:
        for data in packets[50:]:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            rtp.datagram_received(data, ("127.0.0.1", 9))
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
            media.jb.pop()
    finally:
        tracemalloc.stop()
        await media.close()
    assert media.packets_received == 300
    assert max(peaks) < PACKET_BYTES_MAX, max(peaks)


async def test_a_packet_of_a_codec_not_agreed_is_dropped_quietly():
    rtp, rtcp, port = await bind_rtp_pair("127.0.0.1", (41000, 41998))
    media = RtpSession(rtp, rtcp, port)
    media.configure(MediaParams([("PCMA", 8)], 101, ("127.0.0.1", 9), "sendrecv"))  # µ-law packets arrive
    for data in speech_packets(10):
        rtp.datagram_received(data, ("127.0.0.1", 9))
    assert media.packets_received == 0 and media.jb.buffered_samples == 0
    await media.close()


async def test_the_benchmark_times_every_packet():
    times = await measure(speech_packets(200), 2)
    assert len(times) == 400 and all(t > 0 for t in times)
