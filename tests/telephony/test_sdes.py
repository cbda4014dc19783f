"""SDES (RFC 4568) `a=crypto` in offer/answer, on captured offers: pjsua2 2.15.1 with SRTP optional
(RTP/AVP carrying crypto lines) and mandatory (RTP/SAVP), and RFC 4568's own example (MKIs, which
we pass over). Pure: parse, choose, serialise, read the answer back; the modes and the setting."""

import base64

import pytest

from telephony import MediaConfig, sdes, sdp

# Captured from pjsua2 2.15.1 (srtpUse=OPTIONAL, SDES keying), the INVITE's body as sent.
PJSUA_OPTIONAL = """v=0
o=- 4005143228 4005143228 IN IP4 127.0.0.1
s=pjmedia
b=AS:84
t=0 0
a=X-nat:0
m=audio 4000 RTP/AVP 96 97 98 99 3 0 8 9 120 121 122
c=IN IP4 127.0.0.1
b=TIAS:64000
a=rtcp:4001 IN IP4 127.0.0.1
a=sendrecv
a=rtpmap:96 speex/16000
a=rtpmap:97 speex/8000
a=rtpmap:98 speex/32000
a=rtpmap:99 iLBC/8000
a=fmtp:99 mode=30
a=rtpmap:3 GSM/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:9 G722/8000
a=rtpmap:120 telephone-event/16000
a=fmtp:120 0-16
a=rtpmap:121 telephone-event/8000
a=fmtp:121 0-16
a=rtpmap:122 telephone-event/32000
a=fmtp:122 0-16
a=ssrc:1146103714 cname:474baf0e3fe02abb
a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:2I/jNirLGnlbejseovTysefuX5m6RAfAWZb3GnEvyS2d1CnuFSug9zQ4q8J2ZA==
a=crypto:2 AES_256_CM_HMAC_SHA1_32 inline:40pdRlxBNfn4R1fK2zZe+iUceKHLfhplMPnpuK702Zw1Wrif4MIVsT0aYXkVUA==
a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:5h3zUGpr5LNkipdbhQFvGyCl5A2KTp6692vghHfN
a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:nAwYuXiOG9bjI50+YTOwzQNuS7pCCD0v0RxBKQ1A
""".replace("\n", "\r\n")

# The same phone with srtpUse=MANDATORY: only the m= line's transport differs.
PJSUA_MANDATORY = PJSUA_OPTIONAL.replace("RTP/AVP 96", "RTP/SAVP 96")

# RFC 4568 §4's example: both lines carry an MKI (and one two keys), which libsrtp here cannot use.
RFC4568 = PJSUA_MANDATORY.split("a=crypto:1")[0] + (
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4 FEC_ORDER=FEC_SRTP\r\n"
    "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;"
    "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4\r\n"
)

PLAIN = ("v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
         "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n")


def test_best_effort_offer_takes_the_first_suite_we_have_and_answers_in_its_transport():
    offer = sdp.parse_sdp(PJSUA_OPTIONAL)
    params = sdp.negotiate(offer, srtp="offer")
    assert params.codecs == [("PCMU", 0), ("PCMA", 8)] and params.dtmf_pt == 121
    keys = params.srtp
    assert keys.suite == "AES_CM_128_HMAC_SHA1_80" and keys.tag == 3  # AES-256 lines passed over
    assert keys.remote_key == base64.b64decode("5h3zUGpr5LNkipdbhQFvGyCl5A2KTp6692vghHfN")
    assert len(keys.local_key) == 30 and keys.local_key != keys.remote_key
    answer = sdp.parse_sdp(sdp.build_answer(offer, params, "127.0.0.1", 20000, 7, 1).serialize())
    [audio] = answer.media
    assert audio.proto == "RTP/AVP"
    [line] = [v for k, v in audio.attributes if k == "crypto"]
    assert sdes.parse_crypto(line) == sdes.Crypto(3, "AES_CM_128_HMAC_SHA1_80", keys.local_key)
    # The offerer reads our answer back with the lines it offered: the keys mirror.
    offered = tuple(sdes.crypto_lines(offer.media[0].attributes))
    back = sdp.accept_answer(answer, crypto=offered)
    assert (back.srtp.local_key, back.srtp.remote_key) == (keys.remote_key, keys.local_key)


def test_modes_decide_savp_avp_and_plain_offers():
    savp, avp, plain = (sdp.parse_sdp(x) for x in (PJSUA_MANDATORY, PJSUA_OPTIONAL, PLAIN))
    assert sdp.negotiate(savp, srtp="off") is None  # RTP/SAVP without SRTP: no common transport → 488
    assert sdp.negotiate(savp, srtp="offer").proto == "RTP/SAVP"
    answer = sdp.build_answer(savp, sdp.negotiate(savp, srtp="require"), "127.0.0.1", 20000, 1, 1)
    assert answer.media[0].proto == "RTP/SAVP" and answer.media[0].attr("crypto").startswith("3 AES_CM_128_HMAC_SHA1_80 ")
    assert sdp.negotiate(avp, srtp="off").srtp is None  # crypto ignored: plain RTP, no a=crypto answered
    assert sdp.build_answer(avp, sdp.negotiate(avp), "127.0.0.1", 1, 1, 1).media[0].attr("crypto") is None
    assert sdp.negotiate(plain, srtp="offer").srtp is None
    assert sdp.negotiate(plain, srtp="require") is None
    for offer in (savp, avp, plain):
        assert sdp.negotiate(offer, srtp="refuse") is None  # required, but the signalling is not TLS
    assert sdp.negotiate(sdp.parse_sdp(RFC4568), srtp="offer") is None  # every line has an MKI
    with pytest.raises(ValueError):
        sdp.negotiate(plain, srtp="maybe")


def test_savp_line_is_taken_over_a_second_plain_line_only_when_srtp_is_on():
    both = PJSUA_MANDATORY + "m=audio 4002 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\n"
    offer = sdp.parse_sdp(both)
    assert sdp.negotiate(offer, srtp="offer").media_index == 0
    params = sdp.negotiate(offer, srtp="off")
    assert params.media_index == 1 and params.remote_addr == ("127.0.0.1", 4002)
    answer = sdp.build_answer(offer, params, "127.0.0.1", 20000, 1, 1)
    assert [m.port for m in answer.media] == [0, 20000]


def test_our_offer_and_reading_the_answer():
    ours = sdes.offer_lines()
    assert [c.suite for c in ours] == list(sdes.SUITES) and ours[0].key != ours[1].key
    best_effort = sdp.parse_sdp(sdp.build_offer("127.0.0.1", 20000, 1, 1, crypto=ours).serialize())
    assert best_effort.media[0].proto == "RTP/AVP"
    assert [sdes.parse_crypto(v) for k, v in best_effort.media[0].attributes if k == "crypto"] == list(ours)
    required = sdp.build_offer("127.0.0.1", 20000, 1, 1, crypto=ours, require_srtp=True)
    assert required.media[0].proto == "RTP/SAVP"
    theirs = sdes.Crypto(2, "AES_CM_128_HMAC_SHA1_32", sdes.new_key())
    answer = PLAIN.replace("RTP/AVP 0 101\r\n", f"RTP/SAVP 0 101\r\na=crypto:{theirs.value()}\r\n")
    keys = sdp.accept_answer(sdp.parse_sdp(answer), crypto=ours).srtp
    assert keys == sdes.SrtpKeys("AES_CM_128_HMAC_SHA1_32", ours[1].key, theirs.key, 2)
    # An answer without crypto: plain RTP when we offered best effort, nothing when we required it.
    assert sdp.accept_answer(sdp.parse_sdp(PLAIN), crypto=ours).srtp is None
    assert sdp.accept_answer(sdp.parse_sdp(PLAIN), crypto=ours, require_srtp=True) is None
    # A crypto line with a tag we did not offer (or another suite under our tag) is no agreement.
    wrong = answer.replace("a=crypto:2 AES_CM_128_HMAC_SHA1_32", "a=crypto:1 AES_CM_128_HMAC_SHA1_32")
    assert sdp.accept_answer(sdp.parse_sdp(wrong), crypto=ours) is None  # and in RTP/SAVP: refused
    assert sdp.accept_answer(sdp.parse_sdp(wrong.replace("RTP/SAVP", "RTP/AVP")), crypto=ours).srtp is None


@pytest.mark.parametrize("value, why", [
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4", "MKI"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:4", "MKI"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR;inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "several"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:not*base64", "base64"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:QUJD", "30 bytes"),
    ("1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "suite"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTP", "session parameter"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR KDR=23", "session parameter"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^99", "lifetime"),
    ("1 AES_CM_128_HMAC_SHA1_80 uri:http://x", "key method"),
    ("x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "bad crypto"),
    ("1", "bad crypto"),
    ("\u00b2 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "bad crypto"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^\u00b2", "lifetime"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhc\u00e9D0mXXtxaVBR", "base64"),
])
def test_crypto_lines_we_cannot_use_are_rejected_with_the_reason(value, why):
    with pytest.raises(sdes.CryptoError, match=why):
        sdes.parse_crypto(value)


def test_crypto_values_that_we_accept_round_trip_and_keys_stay_out_of_reprs():
    c = sdes.parse_crypto("7 aes_cm_128_hmac_sha1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^31 WSH=64")
    assert (c.tag, c.suite, c.lifetime) == (7, "AES_CM_128_HMAC_SHA1_32", "2^31")
    assert sdes.parse_crypto(c.value()) == c
    assert "PS1u" not in repr(c) and "inline" not in repr(c)
    params = sdp.negotiate(sdp.parse_sdp(PJSUA_OPTIONAL), srtp="offer")
    shown = repr(params)
    assert "5h3z" not in shown and base64.b64encode(params.srtp.local_key).decode() not in shown
    assert repr(params.srtp.remote_key) not in shown


def test_the_srtp_setting_and_its_mode_per_signalling():
    assert MediaConfig().srtp == "offer"
    table = {(s, secure, insecure_ok): MediaConfig(srtp=s, srtp_insecure_signalling=insecure_ok).srtp_mode(secure)
             for s in ("off", "offer", "require") for secure in (True, False) for insecure_ok in (True, False)}
    assert table[("offer", True, False)] == "offer" and table[("require", True, False)] == "require"
    assert table[("offer", False, False)] == "off"  # no keys in clear SDP
    assert table[("require", False, False)] == "refuse"
    assert table[("offer", False, True)] == "offer" and table[("require", False, True)] == "require"
    assert {table[("off", s, i)] for s in (True, False) for i in (True, False)} == {"off"}
    with pytest.raises(ValueError, match="srtp must be"):
        MediaConfig(srtp="yes")
    with pytest.raises(ValueError, match="srtp_insecure_signalling"):
        MediaConfig(srtp_insecure_signalling="no")


# ---- fuzz: whatever a peer writes after a=crypto, nothing but CryptoError comes out -----------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

PIECES = ["1", "2", "\u00b2", "999999999", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "F8_128_HMAC_SHA1_80",
          "inline:", "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "QUJD", "|", "2^20", "2^", "1:4", ";", " ", "WSH=64",
          "UNENCRYPTED_SRTP", "KDR=1", "=", "é", "\x00", ""]
crypto_value = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=10).map("".join)


@settings(max_examples=600, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(crypto_value)
def test_crypto_parser_raises_only_crypto_error_and_what_parses_round_trips(value):
    try:
        c = sdes.parse_crypto(value)
    except sdes.CryptoError:
        return
    assert sdes.parse_crypto(c.value()) == c


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(crypto_value, max_size=4), st.sampled_from(["RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVP", "RTP/SAVPF"]),
       st.sampled_from(sdp.SRTP_MODES))
def test_negotiation_with_fuzzed_crypto_lines_never_raises(values, proto, mode):
    body = PLAIN.replace("RTP/AVP", proto) + "".join(f"a=crypto:{v}\r\n" for v in values if "\r" not in v and "\n" not in v)
    offer = sdp.parse_sdp(body)
    params = sdp.negotiate(offer, srtp=mode)
    if params is not None:
        assert (params.srtp is not None) or (mode in ("off", "offer") and proto == "RTP/AVP")
        sdp.build_answer(offer, params, "127.0.0.1", 20000, 1, 1).serialize()
