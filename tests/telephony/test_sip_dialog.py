"""Requests inside a dialog follow its route set: loose routing (RFC 3261 §12.2.1.1) and the
strict-routing fallback."""

from telephony.sip_dialog import Dialog
from telephony.sip_message import parse_message


def test_dialog_strict_and_loose_routing():
    inv = parse_message(
        b"INVITE sip:bot@h SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=a\r\n"
        b"To: <sip:bot@h>\r\nCall-ID: d\r\nCSeq: 5 INVITE\r\nContact: <sip:a@5.6.7.8:5070>\r\n"
        b"Record-Route: <sip:p1@10.0.0.1;lr>\r\nRecord-Route: <sip:p2@10.0.0.2;lr>\r\nContent-Length: 0\r\n\r\n"
    )
    d = Dialog.as_uas(inv, "me")
    req, hop = d.request("BYE", "SIP/2.0/UDP me;branch=z9hG4bKx", "<sip:me@h>")
    assert req.uri == "sip:a@5.6.7.8:5070" and req.headers.get_all("Route") == ["<sip:p1@10.0.0.1;lr>", "<sip:p2@10.0.0.2;lr>"]
    assert hop.address() == ("10.0.0.1", 5060) and req.to.tag == "a" and req.from_.tag == "me"
    d.route_set = ["<sip:strict@10.0.0.9>"]
    req, hop = d.request("BYE", "SIP/2.0/UDP me;branch=z9hG4bKy", "<sip:me@h>")
    assert req.uri == "sip:strict@10.0.0.9" and req.headers.get_all("Route") == ["<sip:a@5.6.7.8:5070>"]
    assert req.cseq.number == d.local_cseq
