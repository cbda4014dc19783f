"""DTMF: RFC 4733 telephone-events (end retransmissions counted once) and SIP INFO bodies."""

from telephony.dtmf import DtmfReceiver, event_packets, parse_event, parse_info_body


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
