"""The pure transfer pieces: Refer-To with Replaces (RFC 5589) round trips, and sipfrag."""

from telephony.transfer import Replaces, parse_refer_to, parse_replaces, parse_sipfrag, refer_to_value, sipfrag


def test_refer_to_replaces_round_trip_and_sipfrag():
    rep = Replaces("abc@127.0.0.1", "agenttag", "ourtag")
    value = refer_to_value("sip:agent@127.0.0.1:5070", rep)
    assert value == "<sip:agent@127.0.0.1:5070?Replaces=abc%40127.0.0.1%3Bto-tag%3Dagenttag%3Bfrom-tag%3Dourtag>"
    target = parse_refer_to(value)
    assert target.uri == "sip:agent@127.0.0.1:5070"
    assert parse_replaces(target.replaces) == rep
    assert parse_refer_to("<sip:bob@10.0.0.1;transport=udp>").replaces is None
    assert parse_sipfrag(sipfrag(100, "Trying")) == (100, "Trying")
    assert parse_sipfrag(b"SIP/2.0 603 Declined\r\nFrom: x\r\n") == (603, "Declined")
    assert parse_sipfrag(b"hello") is None
