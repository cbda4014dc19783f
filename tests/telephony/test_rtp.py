"""RTP and RTCP packets (RFC 3550): round trips, malformed input, receiver statistics."""

import pytest

from telephony.rtp import (
    ReceiveStats, ReportBlock, RtpError, RtpPacket, build_bye, build_rr, build_sr, is_rtcp, parse_rtcp, parse_rtp,
)


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
