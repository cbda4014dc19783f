"""Property-based fuzzing (hypothesis) of everything that parses bytes from the network: SIP
messages and their headers, TCP framing, SDP, RTP and RTCP, RFC 4733 events, and the jitter
buffer that depacketises RTP. The property: each raises nothing but its module's own error, and
what parses survives a serialise/parse round trip. Bounded (derandomized, a few hundred
examples each) so CI runs it in well under a minute; tests/telephony/test_sip_message.py has a
further 4,000-input mutation fuzz of the SIP parser."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from telephony.dtmf import DtmfError, parse_event
from telephony.jitter_buffer import JitterBuffer
from telephony.rtp import RtcpError, RtpError, RtpPacket, parse_rtcp, parse_rtp
from telephony.sdp import SdpError, negotiate, parse_sdp
from telephony.sip_errors import SipParseError
from telephony.sip_message import StreamFramer, parse_message
from telephony.transfer import parse_refer_to, parse_replaces, parse_sipfrag

FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FUZZ_MORE = settings(FUZZ, max_examples=1500)

# Pieces of real SIP, recombined: hypothesis finds the odd combinations.
TOKENS = ["sip:", "sips:", "tel:", "bot", "@", "127.0.0.1", "[::1]", ":5060", ":99999", ";tag=", ";branch=z9hG4bK",
          ";rport", ";received=", ";lr", ";transport=tcp", "<", ">", '"', "\\", "%41", "%zz", ",", ";", "=", " ", "\t",
          "\r\n ", "SIP/2.0", "SIP/2.0/UDP", "SIP/2.0/TCP", "1", "-1", "4294967296", "INVITE", "ACK", "é", "\x00", ""]
NAMES = ["Via", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq", "Contact", "m", "Max-Forwards", "Content-Length",
         "l", "Content-Type", "c", "Record-Route", "Route", "Replaces", "Refer-To", "r", "Require", "Expires", "X-Odd"]
header_value = st.lists(st.sampled_from(TOKENS) | st.text(max_size=8), max_size=8).map("".join)
header = st.tuples(st.sampled_from(NAMES) | st.text(min_size=1, max_size=6), header_value)
start_line = st.one_of(
    st.tuples(st.sampled_from(["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "REFER", "NOTIFY", "FOO", ""]),
              header_value).map(lambda t: f"{t[0]} {t[1]} SIP/2.0"),
    st.tuples(st.integers(-10, 1000), st.text(max_size=10)).map(lambda t: f"SIP/2.0 {t[0]} {t[1]}"),
    st.text(max_size=30),
)
GOOD = [("Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1;rport"), ("From", "<sip:a@127.0.0.1>;tag=1"),
        ("To", "<sip:bot@127.0.0.1>"), ("Call-ID", "x@y"), ("CSeq", "1 INVITE"), ("Contact", "<sip:a@127.0.0.1:5062>"),
        ("Max-Forwards", "70")]


def _maybe(good: str):
    """Mostly the good value, sometimes one hypothesis makes up (so most messages parse)."""
    return st.one_of(*[st.just(good)] * 14, header_value, st.tuples(st.just(good), header_value).map("".join))


mandatory = st.tuples(*(st.tuples(st.just(n), _maybe(v)) for n, v in GOOD)).map(list)
good_start = st.one_of(*[st.just("INVITE sip:bot@127.0.0.1:5060 SIP/2.0"), st.just("SIP/2.0 200 OK")] * 3, start_line)


def _assemble(t) -> bytes:
    start, must, extra, body, eol, length = t
    heads = must + extra
    cl = {"right": str(len(body)), "none": None, "wrong": str(len(body) + 7)}[length]
    if cl is not None:
        heads = heads + [("Content-Length", cl)]
    text = start + eol + "".join(f"{n}: {v}{eol}" for n, v in heads) + eol
    return text.encode("utf-8", "surrogatepass") + body


sip_message = st.tuples(good_start, mandatory, st.lists(header, max_size=6), st.binary(max_size=64),
                        st.sampled_from(["\r\n", "\r\n", "\n"]),
                        st.sampled_from(["right", "right", "none", "wrong"])).map(_assemble)

VALID = (b"INVITE sip:bot@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1;rport\r\n"
         b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:bot@127.0.0.1>\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\n"
         b"Contact: <sip:a@127.0.0.1:5062>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def _touch(msg) -> None:
    """Read every parsed view the endpoint reads; each may refuse with SipParseError only."""
    for view in ("call_id", "cseq", "from_", "to", "vias", "top_via", "contact", "content_type"):
        try:
            getattr(msg, view)
        except SipParseError:
            pass
    try:
        msg.route_list("Record-Route")
    except SipParseError:
        pass
    if hasattr(msg, "request_uri"):
        try:
            msg.request_uri
        except SipParseError:
            pass


@FUZZ_MORE
@given(sip_message | st.binary(max_size=300))
def test_sip_parser_raises_only_its_own_error_and_round_trips(data):
    try:
        msg = parse_message(data)
    except SipParseError:
        return
    _touch(msg)
    again = parse_message(msg.serialize())
    assert again.serialize() == msg.serialize()


@FUZZ
@given(st.lists(st.binary(max_size=200) | st.just(VALID) | sip_message, max_size=6),
       st.lists(st.integers(1, 64), min_size=1, max_size=8))
def test_tcp_framing_of_any_byte_stream(chunks, cuts):
    stream = b"".join(chunks)
    framer = StreamFramer(max_size=4096)
    pos = 0
    for cut in cuts * 20:
        if pos >= len(stream):
            break
        try:
            for msg in framer.feed(stream[pos : pos + cut]):
                _touch(msg)
        except SipParseError:
            return  # the endpoint closes that connection
        pos += cut


@FUZZ
@given(header_value)
def test_replaces_refer_to_and_sipfrag(value):
    for parse in (parse_replaces, parse_refer_to):
        try:
            parse(value)
        except SipParseError:
            pass
    parse_sipfrag(value.encode("utf-8", "surrogatepass"))


SDP_LINES = ["v=0", "v=1", "o=- 1 1 IN IP4 127.0.0.1", "o=bad", "s=-", "c=IN IP4 127.0.0.1", "c=IN IP6 ::1",
             "c=IN IP4 host.example", "c=IN IP4", "t=0 0", "m=audio 4000 RTP/AVP 0 8 101", "m=audio 0 RTP/AVP 0",
             "m=audio 70000 RTP/AVP 0", "m=audio x RTP/AVP", "m=video 4002 RTP/AVP 96", "a=rtpmap:101 telephone-event/8000",
             "a=rtpmap:0 PCMU/8000", "a=rtpmap:96 opus/48000/2", "a=fmtp:101 0-15", "a=sendonly", "a=inactive",
             "a=ptime:20", "a=rtpmap:x", "b=AS:64", "junk", "=", "a="]
SDP_GOOD = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 4000 RTP/AVP 0 8 101",
            "a=rtpmap:101 telephone-event/8000"]
sdp_line = st.sampled_from(SDP_LINES) | st.text(max_size=20)
sdp_body = st.tuples(st.tuples(*(st.one_of(*[st.just(g)] * 10, sdp_line) for g in SDP_GOOD)),
                     st.lists(sdp_line, max_size=6), st.sampled_from(["\r\n", "\n"])).map(
    lambda t: t[2].join([*t[0], *t[1]]).encode("utf-8", "surrogatepass"))


@FUZZ_MORE
@given(sdp_body | st.binary(max_size=200))
def test_sdp_parser_raises_only_sdp_error(body):
    try:
        offer = parse_sdp(body)
    except SdpError:
        return
    negotiate(offer)  # what the endpoint does next: must not raise either


@FUZZ
@given(st.binary(max_size=120))
def test_rtp_rtcp_and_dtmf_parsers_raise_only_their_errors(data):
    try:
        pkt = parse_rtp(data)
    except RtpError:
        pass
    else:
        assert parse_rtp(pkt.serialize()).payload == pkt.payload
    try:
        parse_rtcp(data)
    except RtcpError:
        pass
    try:
        parse_event(data)
    except DtmfError:
        pass


@FUZZ
@given(st.integers(0, 127), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF),
       st.binary(max_size=200), st.booleans(), st.lists(st.integers(0, 0xFFFFFFFF), max_size=15))
def test_rtp_round_trip(pt, seq, ts, ssrc, payload, marker, csrc):
    pkt = RtpPacket(pt, seq, ts, ssrc, payload, marker, csrc)
    back = parse_rtp(pkt.serialize())
    assert (back.payload_type, back.sequence, back.timestamp, back.ssrc, back.payload, back.marker, back.csrc) == \
        (pt, seq, ts, ssrc, payload, marker, csrc)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.integers(0, 0xFFFFFFFF) | st.integers(0, 4000).map(lambda i: i * 160),
                          st.integers(0, 480), st.booleans(), st.integers(0, 3)), max_size=60))
def test_jitter_buffer_depacketises_any_arrival_order_into_whole_frames(arrivals):
    """Packets with any timestamps (wraps, jumps, duplicates, reordering) and sizes: the buffer
    never raises, and every frame it gives out is exactly one 20 ms frame of int16."""
    jb = JitterBuffer()
    for ts, n, marker, pops in arrivals:
        jb.push(ts, np.full(n, 1000, dtype=np.int16), marker)
        for _ in range(pops):
            frame = jb.pop()
            if frame is not None:
                assert frame.dtype == np.int16 and frame.shape == (160,)
        assert jb.buffered_samples >= 0
