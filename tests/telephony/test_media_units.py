"""Pure media pieces: SDP offer/answer, RTP/RTCP, the jitter buffer, RFC 4733 DTMF."""

import random

import numpy as np
import pytest

from telephony import sdp
from telephony.dtmf import DtmfReceiver, event_packets, parse_event, parse_info_body
from telephony.jitter_buffer import JitterBuffer
from telephony.rtp import (
    ReceiveStats, ReportBlock, RtpError, RtpPacket, build_bye, build_rr, build_sr, is_rtcp, parse_rtcp, parse_rtp,
)

OFFER = (
    "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 18 8 0 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n"
    "m=video 5000 RTP/AVP 31\r\n"
)


def test_answer_follows_offer_order_filtered_by_support():
    offer = sdp.parse_sdp(OFFER)
    params = sdp.negotiate(offer)
    assert params.codecs == [("PCMA", 8), ("PCMU", 0)] and params.dtmf_pt == 101
    assert params.remote_addr == ("192.0.2.10", 4000) and params.direction == "sendrecv"
    answer = sdp.parse_sdp(sdp.build_answer(offer, params, "127.0.0.1", 20000, 7, 1).serialize())
    audio, video = answer.media
    assert audio.formats == ["8", "0", "101"] and audio.port == 20000
    assert video.port == 0  # rejected, but kept in place (RFC 3264 §6)
    assert answer.connection == "127.0.0.1"


def test_no_common_codec_and_hold_directions():
    assert sdp.negotiate(sdp.parse_sdp(OFFER.replace("18 8 0 101", "18 101"))) is None
    assert sdp.negotiate(sdp.parse_sdp(OFFER.replace("18 8 0 101", "18"))) is None
    assert sdp.negotiate(sdp.parse_sdp(OFFER), supported=("PCMU",)).codecs == [("PCMU", 0)]
    held = sdp.parse_sdp(OFFER + "a=sendonly\r\n".replace("a=", "a=", 1))
    # a session-level or media-level sendonly offer is answered recvonly
    held = sdp.parse_sdp(OFFER.replace("a=ptime:20\r\n", "a=ptime:20\r\na=sendonly\r\n"))
    assert sdp.negotiate(held).direction == "recvonly"
    inactive = sdp.parse_sdp(OFFER.replace("t=0 0\r\n", "t=0 0\r\na=inactive\r\n"))
    assert sdp.negotiate(inactive).direction == "inactive"
    with pytest.raises(sdp.SdpError):
        sdp.parse_sdp("garbage")
    with pytest.raises(sdp.SdpError):
        sdp.parse_sdp(OFFER.replace("c=IN IP4 192.0.2.10", "c=IN IP4 host.example.com"))


def test_offer_round_trip():
    offer = sdp.build_offer("127.0.0.1", 30000, 5, 5)
    params = sdp.accept_answer(sdp.parse_sdp(offer.serialize()))
    assert params.codecs == [("PCMU", 0), ("PCMA", 8)] and params.dtmf_pt == 101


def test_rtp_round_trip_and_errors():
    p = RtpPacket(8, 65535, 2**32 - 1, 0xDEADBEEF, b"\xd5" * 160, marker=True, csrc=[1, 2])
    q = parse_rtp(p.serialize())
    assert q == p
    padded = bytearray(RtpPacket(0, 1, 2, 3, b"abc").serialize() + b"\x00\x00\x03")
    padded[0] |= 0x20
    assert parse_rtp(bytes(padded)).payload == b"abc"
    ext = bytearray(RtpPacket(0, 1, 2, 3).serialize() + b"\xbe\xde\x00\x01abcdxyz")
    ext[0] |= 0x10
    assert parse_rtp(bytes(ext)).payload == b"xyz"
    for bad in [b"", b"\x80" * 11, b"\x00" * 12, bytes(padded[:-1]) + b"\xff"]:
        with pytest.raises(RtpError):
            parse_rtp(bad)
    assert not is_rtcp(p.serialize()) and is_rtcp(build_bye(1))


def test_rtcp_build_parse():
    block = ReportBlock(9, 12, -3, 70000, 40)
    pkts = parse_rtcp(build_sr(1, 2**40, 160, 10, 1600, [block]) + build_rr(2, [block]) + build_bye(3))
    assert [p.packet_type for p in pkts] == [200, 201, 203]
    assert pkts[0].reports[0] == block and pkts[0].octet_count == 1600 and pkts[1].ssrc == 2
    with pytest.raises(RtpError):
        parse_rtcp(build_sr(1, 0, 0, 0, 0)[:-4])


def test_receive_stats_wrap_loss_and_restart():
    st = ReceiveStats()
    seqs = [65530 + i for i in range(12) if i != 8]  # wraps at 65536, one lost
    exts = [st.update(s % 65536) for s in seqs]
    assert exts == seqs and st.lost == 1 and st.fraction_lost() == (1 << 8) // 12
    assert st.update(20000) is None  # a big jump is held back once...
    assert st.update(20001) == 20001  # ...and accepted as a restart when the next one follows
    assert st.lost == 0


def _frames(n, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(160) * 3000).astype(np.int16) for _ in range(n)]


def test_jitter_buffer_reorders_shuffled_packets():
    frames = _frames(40)
    jb = JitterBuffer(target_ms=60)
    order = list(range(40))
    rng = random.Random(3)
    # shuffle within windows of 3 packets (60 ms of jitter)
    for i in range(0, 40, 3):
        chunk = order[i : i + 3]
        rng.shuffle(chunk)
        order[i : i + 3] = chunk
    out = []
    base = 4294967000  # timestamps wrap during the test
    for i, k in enumerate(order):
        jb.push((base + k * 160) % 2**32, frames[k])
        if i >= 3:
            f = jb.pop()
            if f is not None:
                out.append(f)
    while len(out) < 40 and (f := jb.pop()) is not None:
        out.append(f)
    assert len(out) == 40 and all(np.array_equal(a, b) for a, b in zip(out, frames))
    assert jb.concealed == 0 and jb.late == 0


def test_jitter_buffer_conceals_loss_and_keeps_timing():
    frames = _frames(30)
    lost = {5, 12, 13, 14}
    jb = JitterBuffer(target_ms=40)
    out = []
    for k in range(30):
        if k not in lost:
            jb.push(k * 160, frames[k])
        f = jb.pop()
        if f is not None:
            out.append(f)
    while len(out) < 30:
        out.append(jb.pop())
    assert len(out) == 30
    assert np.array_equal(out[5], (frames[4].astype(np.int32) // 2).astype(np.int16))  # attenuated repeat
    assert np.array_equal(out[12], (frames[11].astype(np.int32) // 2).astype(np.int16))
    assert not out[13].any() and not out[14].any()  # then silence
    assert np.array_equal(out[15], frames[15]) and np.array_equal(out[29], frames[29])
    assert jb.concealed == 4


def test_jitter_buffer_repacketises_30ms_and_drops_late_and_duplicates():
    pcm = ((np.arange(240 * 10) % 300) * 40).astype(np.int16)  # speech-loud: none of it is dropped
    jb = JitterBuffer(target_ms=60)
    for i in range(10):
        jb.push(1000 + 240 * i, pcm[240 * i : 240 * (i + 1)])
    assert not jb.push(1000, pcm[:240])  # duplicate
    out = np.concatenate([jb.pop() for _ in range(15)])
    assert np.array_equal(out, pcm)
    assert not jb.push(1000 + 240, pcm[240:480])  # late now
    assert jb.late == 1 and jb.duplicates == 1


def test_jitter_buffer_skips_long_gaps_and_resyncs():
    jb = JitterBuffer(target_ms=20)
    jb.push(0, np.ones(160, np.int16))
    assert jb.pop() is not None
    jb.push(160 + 8000, np.full(160, 7, np.int16))  # 1 s of DTX, then speech
    assert (jb.pop() == 7).all()  # no second of silence played out first
    jb.push(5_000_000, np.full(160, 9, np.int16))  # timeline jump: a new stream
    assert jb.resyncs == 1
    assert (jb.pop() == 9).all()


def test_dtmf_end_retransmissions_counted_once():
    rx = DtmfReceiver()
    digits = []
    for ts, d in [(1000, "1"), (3000, "#")]:
        for payload, _marker in event_packets(d):
            digits += rx.feed(ts, payload)
    assert digits == ["1", "#"]
    ev = parse_event(event_packets("5", 100)[-1][0])
    assert ev.end and ev.digit == "5" and ev.duration == 800
    # a press that lost all its end packets is still reported when the next press begins
    rx = DtmfReceiver()
    first = [p for p, _ in event_packets("7") if not parse_event(p).end]
    out = [d for p in first for d in rx.feed(10, p)]
    out += [d for p, _ in event_packets("8") for d in rx.feed(900, p)]
    assert out == ["7", "8"]
    assert rx.feed(11, b"\x01") == []


def test_info_dtmf_bodies():
    assert parse_info_body("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n") == "5"
    assert parse_info_body("application/dtmf-relay", b"Signal= #\r\n") == "#"
    assert parse_info_body("application/dtmf", b"*") == "*"
    assert parse_info_body("text/plain", b"5") is None


def test_jitter_buffer_grows_its_delay_when_packets_come_late():
    # Packets every 20 ms but each arrives 30 ms after its slot: a 20 ms target is too small.
    frames = _frames(400)
    jb = JitterBuffer(target_ms=20, max_target_ms=200)
    out, arrivals = [], {}
    for k in range(400):
        arrivals.setdefault(k + (0 if k < 3 else 2), []).append(k)  # from packet 3 on, 40 ms later
    for tick in range(420):
        for k in arrivals.get(tick, []):
            jb.push(k * 160, frames[k])
        f = jb.pop()
        if f is not None:
            out.append(f)
    assert jb.grown >= 1 and jb.target > 160  # grew to cover the lateness
    assert jb.target <= 200 * 8  # and never past its limit
    # Once grown, nothing more was late: the last 150 packets played back to back, in order.
    start = next(i for i, f in enumerate(out) if np.array_equal(f, frames[250]))
    assert all(np.array_equal(out[start + j], frames[250 + j]) for j in range(150))


def test_jitter_buffer_fixed_target_without_a_limit_and_growth_is_rate_limited():
    jb = JitterBuffer(target_ms=20)  # no max_target_ms: the target never moves
    jb.push(0, np.ones(160, np.int16))
    jb.pop(), jb.pop(), jb.pop()
    jb.push(160, np.ones(160, np.int16))  # late
    assert jb.target == 160 and jb.grown == 0
    jb = JitterBuffer(target_ms=20, max_target_ms=200)
    jb.push(0, np.ones(160, np.int16))
    for _ in range(6):
        jb.pop()
    for k in range(1, 6):  # a burst of late packets, as after a stall of our own loop
        jb.push(k * 160, np.ones(160, np.int16))
    assert jb.grown == 1 and jb.target == 320  # one frame for the whole burst


def _steady_after_burst(frames, burst=6):
    """`burst` packets arrive at once (a peer catching up), then one per tick: what plays out."""
    jb = JitterBuffer(target_ms=20, max_target_ms=200)
    for k in range(burst):
        jb.push(k * 160, frames[k])
    out = []
    for k in range(burst, len(frames)):
        out.append(jb.pop())
        jb.push(k * 160, frames[k])
    return jb, out


def test_jitter_buffer_gives_back_a_bursts_excess_in_pauses():
    rng = np.random.default_rng(5)
    quiet = [(rng.standard_normal(160) * 20).astype(np.int16) for _ in range(120)]  # line noise, -64 dBFS
    jb, _ = _steady_after_burst(quiet)
    assert jb.buffered_samples - 160 <= jb.target == 160  # back to its target (less the packet just pushed)
    assert jb.shed == 4 and jb.late == 0 and jb.concealed == 0


def test_jitter_buffer_never_sheds_speech_and_keeps_its_order():
    loud = _frames(120)  # all speech: the excess stays rather than cutting a word
    jb, out = _steady_after_burst(loud)
    assert jb.shed == 0 and all(np.array_equal(a, b) for a, b in zip(out, loud))
    # Speech with pauses in it: every speech frame still plays, in order; pause frames go.
    rng = np.random.default_rng(6)
    mixed = [f if (k // 10) % 2 == 0 else (rng.standard_normal(160) * 20).astype(np.int16) for k, f in enumerate(_frames(160))]
    jb, out = _steady_after_burst(mixed)
    speech = [k for k in range(len(mixed)) if (k // 10) % 2 == 0]
    played = [next(k for k in speech if np.array_equal(f, mixed[k])) for f in out if np.sqrt(np.mean(f.astype(float) ** 2)) > 1000]
    assert jb.shed == 4 and played == speech[: len(played)] and len(played) >= len(speech) - 6


def test_jitter_buffer_steady_jitter_sheds_nothing():
    jb = JitterBuffer(target_ms=20, max_target_ms=200)
    rng = np.random.default_rng(7)
    quiet = [(rng.standard_normal(160) * 20).astype(np.int16) for _ in range(300)]
    for k in range(300):  # one packet per tick, alternating early and late within the frame
        jb.push(k * 160, quiet[k])
        jb.pop()
    assert jb.shed == 0 and jb.concealed == 0
