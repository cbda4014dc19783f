"""SDP offer/answer (RFC 3264): the answer follows the offer's order, hold directions, round trips."""

import pytest

from telephony import sdp


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
