import random

import pytest

from telephony.sip_errors import SipParseError
from telephony.sip_headers import parse_name_addr, parse_uri, parse_via, split_header_list
from telephony.sip_message import Headers, SipRequest, SipResponse, StreamFramer, parse_message

INVITE = (
    b"INVITE sip:bot@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1;rport\r\n"
    b"From: \"Alice, A.\" <sip:alice@example.com>;tag=a1\r\n"
    b"To: <sip:bot@example.com>\r\n"
    b"Call-ID: c1@example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@127.0.0.1:5061>\r\n"
    b"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\n"
)


def test_case_insensitive_and_compact_names():
    m = parse_message(INVITE.replace(b"Call-ID:", b"i:").replace(b"Content-Type:", b"c:"))
    assert m.headers.get("call-id") == m.headers.get("I") == "c1@example.com"
    assert m.content_type == "application/sdp"
    assert m.from_.display == "Alice, A." and m.from_.tag == "a1"
    assert [str(r.uri) for r in m.route_list()] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]


def test_repeated_and_folded_headers_merge_into_one_list():
    m = parse_message(INVITE.replace(b"Max-Forwards: 70\r\n", b"Allow: INVITE,\r\n  ACK\r\nallow: BYE\r\nMax-Forwards: 70\r\n"))
    assert m.headers.values("Allow") == ["INVITE", "ACK", "BYE"]


def test_serialise_round_trip_sets_content_length():
    m = parse_message(INVITE)
    m.body = b"v=0\r\ns=-\r\n"
    again = parse_message(m.serialize())
    assert again.body == b"v=0\r\ns=-\r\n" and again.headers.get("Content-Length") == "10"
    assert again.cseq == m.cseq and again.vias == m.vias
    r = SipResponse(180, headers=Headers([("Via", "SIP/2.0/UDP h;branch=z9hG4bKx"), ("CSeq", "1 INVITE")]))
    assert r.serialize().startswith(b"SIP/2.0 180 Ringing\r\n")


def test_content_length_rules():
    with pytest.raises(SipParseError):
        parse_message(INVITE.replace(b"Content-Length: 4", b"Content-Length: 40"))
    assert parse_message(INVITE.replace(b"Content-Length: 4", b"Content-Length: 2")).body == b"v="
    no_len = INVITE.replace(b"Content-Length: 4\r\n", b"")
    assert parse_message(no_len).body == b"v=0\n"  # UDP: the body runs to the datagram's end
    with pytest.raises(SipParseError):
        parse_message(no_len, stream=True)
    with pytest.raises(SipParseError) as err:
        parse_message(INVITE + b"x" * 70000)
    assert err.value.status == 413


def test_tcp_framing_splits_and_joins_messages():
    framer = StreamFramer()
    stream = b"\r\n\r\n" + INVITE + INVITE.replace(b"CSeq: 1", b"CSeq: 2")
    out = []
    for i in range(0, len(stream), 7):  # arbitrary chunking
        out += framer.feed(stream[i : i + 7])
    assert [m.cseq.number for m in out] == [1, 2]
    with pytest.raises(SipParseError):
        StreamFramer().feed(INVITE.replace(b"Content-Length: 4\r\n", b""))


def test_uri_and_via_details():
    u = parse_uri("sips:alice:pw@[2001:db8::1]:5071;transport=tcp;lr?subject=x")
    assert (u.scheme, u.user, u.password, u.host, u.port) == ("sips", "alice", "pw", "[2001:db8::1]", 5071)
    assert u.params == {"transport": "tcp", "lr": None} and u.headers == "subject=x"
    assert str(u) == "sips:alice:pw@[2001:db8::1]:5071;transport=tcp;lr?subject=x"
    assert parse_uri("tel:+15551234").opaque == "+15551234"
    v = parse_via("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKabc;rport=5062;received=1.2.3.4")
    assert v.port == 5062 and v.params["rport"] == "5062"
    for bad in ["sip:host:99999", "sip:", "sip:a b@c", "sip:@host", "sip:[::1", "sip:h;;x"]:
        with pytest.raises(SipParseError):
            parse_uri(bad)
    assert split_header_list('"a,b" <sip:x>, <sip:y;p=1,2>') == ['"a,b" <sip:x>', "<sip:y;p=1,2>"]
    assert parse_name_addr("sip:bob@h;tag=9").tag == "9"


def test_request_construction():
    r = SipRequest("OPTIONS", "sip:x@127.0.0.1")
    r.headers.add("v", "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1")
    r.headers.set("Max-Forwards", 70)
    assert b"Via: SIP/2.0/UDP" in r.serialize()


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(b) + 1)
        if op < 0.3 and b:
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        elif op < 0.5:
            b[pos:pos] = rng.choice([b"\r\n", b" ", b";", b",", b"<", b">", b'"', b":", b"\x00", b"\xff", b"[", b"%"])
        elif op < 0.7:
            del b[pos : pos + rng.randint(1, 20)]
        elif op < 0.85:
            b[pos:pos] = b[rng.randrange(len(b) + 1) :][: rng.randint(1, 40)]
        else:
            b = b[:pos]
    return bytes(b)


def test_fuzz_only_sip_parse_error_escapes():
    rng = random.Random(4475)
    seeds = [INVITE, INVITE.replace(b"INVITE sip:bot@127.0.0.1:5060 SIP/2.0", b"SIP/2.0 200 OK")]
    parsed = rejected = 0
    for i in range(4000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(200))) if i % 10 == 0 else _mutate(rng, rng.choice(seeds))
        try:
            msg = parse_message(data)
            msg.serialize()
            parsed += 1
        except SipParseError:
            rejected += 1
        framer = StreamFramer()
        try:
            framer.feed(data)
        except SipParseError:
            pass
    assert parsed > 100 and rejected > 100
