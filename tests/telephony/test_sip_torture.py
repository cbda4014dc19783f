"""RFC 4475 torture-test messages (and the RFC 5118 IPv6 ones), written from the RFCs' text.

Valid messages (§3.1.1) must parse with the right values; invalid ones (§3.1.2) must raise
`SipParseError` and nothing else. Line ends are written as LF here and turned into CRLF.
"""

import pytest

from telephony.sip_errors import SipParseError
from telephony.sip_message import SipRequest, SipResponse, parse_message


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


SDP150 = (
    "v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.{h}\ns=-\nc=IN IP4 192.0.2.{h2}\nt=0 0\n"
    "m=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n"
)

WSINV = crlf(
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n"
    "TO :\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n"
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\n  ;\n  tag = 98asjd8\n'
    "MaX-fOrWaRdS: 0068\n"
    "Call-ID: wsinv.ndaksdj@192.0.2.1\n"
    "Content-Length   : 150\n"
    "cseq: 0009\n  INVITE\n"
    "Via  : SIP  /   2.0\n /UDP\n    192.0.2.2;branch=390skdjuw\n"
    "s :\n"
    "NewFangledHeader:   newfangled value\n continued newfangled value\n"
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\n"
    "Content-Type: application/sdp\n"
    "Route:\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n"
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n  branch  =   z9hG4bK9ikj8  ,\n"
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n z9hG4bK30239\n"
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\n      newvalue ;\n'
    "  secondparam ; q = 0.33\n\n" + SDP150.format(h=3, h2=4)
)

INTMETH = (
    b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    b":&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"
    b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>\r\n'
    b"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
    + '"работающий"'.encode()
    + b";tag=_token~1'+`*%!-.\r\n"
    b"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n"
    b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n"
    b"Max-Forwards: 255\r\n"
    b"extensionHeader-!.%*+_`'~:" + "\ufeff大停電".encode() + b"\r\n"
    b"Content-Length: 0\r\n\r\n"
)

ESC01 = crlf(
    "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\n"
    "To: sip:%75se%72@example.com\n"
    "From: <sip:I%20have%20spaces@example.net>;tag=938\n"
    "Max-Forwards: 87\n"
    "i: esc01.239409asdfakjkn23onasd0-3234\n"
    "CSeq: 234234 INVITE\n"
    "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\n"
    "C: application/sdp\n"
    "Contact:\n  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\n"
    "Content-Length: 150\n\n" + SDP150.format(h=1, h2=1)
)

ESCNULL = crlf(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:null-%00-null@example.com\n"
    "From: sip:null-%00-null@example.com;tag=839923423\n"
    "Max-Forwards: 70\n"
    "Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\n"
    "CSeq: 14398234 REGISTER\n"
    "Via: SIP/2.0/UDP host5.example.com;rport;branch=z9hG4bKkdjuw\n"
    "Contact: <sip:%00@host5.example.com>\n"
    "Contact: <sip:%00%00@host5.example.com>\n"
    "L:0\n\n"
)

ESC02 = crlf(
    "RE%47ISTER sip:registrar.example.com SIP/2.0\n"
    'To: "%Z%45" <sip:resource@example.com>\n'
    'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23\n'
    "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\n"
    "Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209793\n"
    "Max-Forwards: 70\n"
    "Contact: <sip:alias1@host1.example.com>\n"
    "C%6Fntact: <sip:alias2@host2.example.com>\n"
    "Contact: <sip:alias3@host3.example.com>\n"
    "CSeq: 29344 RE%47ISTER\n"
    "l: 0\n\n"
)

LWSDISP = crlf(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: caller<sip:caller@example.com>;tag=323\n"
    "Max-Forwards: 70\n"
    "Call-ID: lwsdisp.1234abcd@funky.example.com\n"
    "CSeq: 60 OPTIONS\n"
    "Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\n"
    "l: 0\n\n"
)

_LONG_VIAS = "".join(
    f"{name}SIP/2.0/TCP sip{n}.example.com\n"
    for n, name in zip(
        range(33, 0, -1),
        ["Via: ", "v: ", "V: ", "Via: ", "ViA: ", "VIa: ", "VIA: ", "via: ", "viA: ", "vIa: ", "vIA: ",
         "V :  ", "v :  ", "V  : ", "v  : ", "Via : ", "Via  : "] + ["Via: "] * 16,
    )
)
LONGREQ = crlf(
    "INVITE sip:user@example.com SIP/2.0\n"
    f'To: "I have a user name of {"extreme" * 10} proportion"<sip:user@example.com:6000;'
    f"unknownparam1=very{'long' * 20}value;longparam{'name' * 25}=shortvalue;"
    f"very{'long' * 25}ParameterNameWithNoValue>\n"
    f"F: sip:{'amazinglylongcallername' * 5}@example.net;tag=12{'982' * 50}424"
    f";unknownheaderparam{'name' * 20}=unknowheaderparam{'value' * 15}"
    f";unknownValueless{'paramname' * 10}\n"
    f"Call-ID: longreq.one{'really' * 20}longcallid\n"
    "CSeq: 3882340 INVITE\n"
    f"Unknown-{'Long' * 20}-Name: unknown-{'long' * 20}-value; "
    f"unknown-{'long' * 20}-parameter-name = unknown-{'long' * 20}-parameter-value\n"
    + _LONG_VIAS
    + f"Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very{'long' * 50}branchvalue\n"
    "Max-Forwards: 70\n"
    f"Contact: <sip:{'amazinglylongcallername' * 5}@host5.example.net>\n"
    "Content-Type: application/sdp\n"
    "l: 150\n\n" + SDP150.format(h=1, h2=1)
)

DBLREQ = crlf(
    "REGISTER sip:example.com SIP/2.0\n"
    "To: sip:j.user@example.com\n"
    "From: sip:j.user@example.com;tag=43251j3j324\n"
    "Max-Forwards: 8\n"
    "I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\n"
    "Contact: sip:j.user@host.example.com\n"
    "CSeq: 8 REGISTER\n"
    "Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\n"
    "Content-Length: 0\n\n\n"
    "INVITE sip:joe@example.com SIP/2.0\n"
    "t: sip:joe@example.com\n"
    "From: sip:caller@example.net;tag=141334\n"
    "Max-Forwards: 8\n"
    "Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\n"
    "CSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\n"
    "Content-Type: application/sdp\n"
    "Content-Length: 150\n\n" + SDP150.format(h=15, h2=15)
)

SEMIURI = crlf(
    "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\n"
    "To: sip:j_user@example.com\n"
    "From: sip:caller@example.org;tag=33242\n"
    "Max-Forwards: 3\n"
    "Call-ID: semiuri.0ha0isndaksdj\n"
    "CSeq: 8 OPTIONS\n"
    "Accept: application/sdp, application/pkcs7-mime,\n"
    "        multipart/mixed, multipart/signed,\n"
    "        message/sip, message/sipfrag\n"
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\n"
    "l: 0\n\n"
)

TRANSPORTS = crlf(
    "OPTIONS sip:user@example.com SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: <sip:caller@example.com>;tag=323\n"
    "Max-Forwards: 70\n"
    "Call-ID:  transports.kijh4akdnaqjkwendsasfdj\n"
    "Accept: application/sdp\n"
    "CSeq: 60 OPTIONS\n"
    "Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\n"
    "Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\n"
    "Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\n"
    "Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\n"
    "Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\n"
    "l: 0\n\n"
)

# §3.1.1.11: a multipart body whose binary part contains CR, LF, NUL and a fake blank line.
_MPART_BODY = (
    b"--7a9cbec.9b.9d.3a\r\nContent-Type: application/sdp\r\n\r\n"
    + crlf(SDP150.format(h=1, h2=1))
    + b"\r\n--7a9cbec.9b.9d.3a\r\nContent-Type: application/pkcs7-signature\r\n\r\n"
    + bytes(range(256)) + b"\r\n\r\n\x00\xff\r\n"
    + b"\r\n--7a9cbec.9b.9d.3a--\r\n"
)
MPART01 = (
    crlf(
        "MESSAGE sip:kumiko@example.org SIP/2.0\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport\n"
        "Max-Forwards: 70\n"
        "Route: <sip:127.0.0.1:5080>\n"
        "Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=\n"
        "Contact: <sip:fluffy@127.0.0.1:5070>\n"
        "To: <sip:kumiko@example.org>\n"
        "From: <sip:fluffy@example.com>;tag=2fb0dcc9\n"
        "Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\n"
        "CSeq: 1 MESSAGE\n"
        "Content-Transfer-Encoding: binary\n"
        "Content-Type: multipart/mixed;boundary=7a9cbec.9b.9d.3a\n"
        f"Content-Length: {len(_MPART_BODY)}\n\n"
    )
    + _MPART_BODY
)

_UNREASON_SDP = crlf(
    "v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.198\ns=-\nc=IN IP4 192.0.2.198\nt=0 0\n"
    "m=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n"
)
UNREASON = crlf(
    "SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое\n"
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\n"
    "Call-ID: unreason.1234ksdfak3j2erwedfsASdf\n"
    "CSeq: 35 INVITE\n"
    "From: sip:user@example.com;tag=11141343\n"
    "To: sip:user@example.edu;tag=2229\n"
    f"Content-Length: {len(_UNREASON_SDP)}\n"
    "Content-Type: application/sdp\n"
    "Contact: <sip:user@host198.example.com>\n\n"
) + _UNREASON_SDP

NOREASON = crlf(
    "SIP/2.0 100 \n"
    "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
    "Call-ID: noreason.asndj203insdf99223ndf\n"
    "CSeq: 35 INVITE\n"
    "From: <sip:user@example.com>;tag=39ansfi3\n"
    "To: <sip:user@example.edu>;tag=902jndnke3\n"
    "Content-Length: 0\n"
    "Contact: <sip:user@host105.example.com>\n\n"
)

# RFC 5118 (IPv6 torture tests), the valid ones.
IPV6_GOOD = crlf(
    "REGISTER sip:[2001:db8::10] SIP/2.0\n"
    "To: sip:user@example.com\n"
    "From: sip:user@example.com;tag=81x2\n"
    "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\n"
    "Call-ID: SSG9559905523997077@hlau_4100\n"
    "Max-Forwards: 70\n"
    'Contact: "Caller" <sip:caller@[2001:db8::1]>\n'
    "CSeq: 98176 REGISTER\n"
    "Content-Length: 0\n\n"
)


def test_wsinv_short_tortuous_invite():
    msg = parse_message(WSINV)
    assert isinstance(msg, SipRequest) and msg.method == "INVITE"
    assert msg.request_uri.params == {"unknownparam": None}
    assert msg.to.uri.user == "vivekg" and msg.to.tag == "1918181833n"
    assert msg.from_.display == 'J Rosenberg \\"' and msg.from_.tag == "98asjd8"
    assert msg.headers.get("max-forwards") == "0068"
    assert msg.cseq.number == 9 and msg.cseq.method == "INVITE"
    vias = msg.vias
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.headers.get("Subject") == ""
    assert msg.headers.get("newfangledheader") == "newfangled value continued newfangled value"
    assert msg.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    contact = msg.contact
    assert contact.display == 'Quoted string ""' and contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert msg.route_list("Route")[0].uri.params["lr"] is None
    assert len(msg.body) == 150 and msg.content_type == "application/sdp"


def test_intmeth_wide_range_of_valid_characters():
    msg = parse_message(INTMETH)
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.request_uri.user.startswith("1_unusual.URI~(to-be!sure)")
    assert msg.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_.display == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.tag == "_token~1'+`*%!-."
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert msg.top_via.branch == "z9hG4bK-.!%66*_+`'~"


def test_esc01_escnull_esc02():
    m = parse_message(ESC01)
    assert m.uri == "sip:sips%3Auser%40example.com@example.net" and m.request_uri.host == "example.net"
    assert m.call_id.startswith("esc01.") and m.content_type == "application/sdp"
    assert m.contact.uri.params == {"%6c%72": None, "n%61me": "v%61lue%25%34%31"}
    m = parse_message(ESCNULL)
    assert len(m.headers.values("Contact")) == 2
    m = parse_message(ESC02)
    assert m.method == "RE%47ISTER" and m.cseq.method == "RE%47ISTER"
    assert m.to.display == "%Z%45"
    assert m.headers.get("C%6Fntact") is not None  # an unknown header, not Contact
    assert len(m.headers.values("Contact")) == 2


def test_lwsdisp_longreq_semiuri_transports():
    assert parse_message(LWSDISP).from_.display == "caller"
    m = parse_message(LONGREQ)
    assert len(m.vias) == 34 and m.call_id == f"longreq.one{'really' * 20}longcallid"
    assert m.to.display.startswith("I have a user name of extreme") and m.to.uri.port == 6000
    m = parse_message(SEMIURI)
    assert m.request_uri.user == "user;par=u%40example.net"
    assert len(m.headers.values("Accept")) == 6
    assert [v.transport for v in parse_message(TRANSPORTS).vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_dblreq_trailing_octets_in_datagram_are_ignored():
    m = parse_message(DBLREQ)
    assert m.method == "REGISTER" and m.body == b""


def test_mpart01_binary_body_kept_exactly():
    m = parse_message(MPART01)
    assert m.body == _MPART_BODY and m.content_type == "multipart/mixed"


def test_unusual_and_empty_reason_phrases():
    m = parse_message(UNREASON)
    assert isinstance(m, SipResponse) and m.status == 200 and "простое" in m.reason
    m = parse_message(NOREASON)
    assert m.status == 100 and m.reason == ""


def test_ipv6_references():
    m = parse_message(IPV6_GOOD)
    assert m.request_uri.host == "[2001:db8::10]" and m.request_uri.address() == ("2001:db8::10", 5060)
    assert m.top_via.host == "[2001:db8::9:1]"
    assert m.contact.uri.host == "[2001:db8::1]"
    amb = parse_message(IPV6_GOOD.replace(b"sip:[2001:db8::10]", b"sip:[2001:db8::10:5070]"))
    assert amb.request_uri.port is None  # RFC 5118 §4.3: the ":5070" is part of the address
    port = parse_message(IPV6_GOOD.replace(b"sip:[2001:db8::10]", b"sip:[2001:db8::10]:5070"))
    assert port.request_uri.port == 5070
    rcv = parse_message(IPV6_GOOD.replace(b"branch=z9hG4bKas3-111", b"received=[2001:db8::9:255];branch=z9hG4bKas3-111"))
    assert rcv.top_via.params["received"] == "[2001:db8::9:255]"
    with pytest.raises(SipParseError):  # RFC 5118 §4.2: an IPv6 address must be in brackets
        parse_message(IPV6_GOOD.replace(b"sip:[2001:db8::10]", b"sip:2001:db8::10"))


# ---- §3.1.2: invalid messages -------------------------------------------------------------

INVALID = {
    "badinv01": "INVITE sip:user@example.com SIP/2.0\nTo: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=134161461246\nMax-Forwards: 7\n"
    "Call-ID: badinv01.0ha0isndaksdjasdf3234nas\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP 192.0.2.15;;,;,,\n"
    'Contact: "Joe" <sip:joe@example.org>;;;;\nContent-Length: 152\nContent-Type: application/sdp\n\n'
    "v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.15\ns=-\nc=IN IP4 192.0.2.15\nt=0 0\n"
    "m=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n",
    "clerr": "INVITE sip:user@example.com SIP/2.0\nMax-Forwards: 80\nTo: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=93942939o2\nContact: <sip:caller@hungry.example.net>\n"
    "Call-ID: clerr.0ha0isndaksdjweiafasdk3\nCSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\nContent-Type: application/sdp\n"
    "Content-Length: 9999\n\n" + SDP150.format(h=155, h2=155),
    "ncl": "INVITE sip:user@example.com SIP/2.0\nMax-Forwards: 254\nTo: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=32394234\nCall-ID: ncl.0ha0isndaksdj2193423r542w35\nCSeq: 0 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\nContact: <sip:caller@example53.example.net>\n"
    "Content-Type: application/sdp\nContent-Length: -999\n\n" + SDP150.format(h=53, h2=53),
    "scalar02": "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\n"
    "To: <sip:user@example.com>\nFrom: <sip:user@example.com>;tag=239232jh3\n"
    "CSeq: 36893488147419103232 REGISTER\nCall-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\n"
    "Max-Forwards: 300\nExpires: 1" + "0" * 110 + "\n"
    "Contact: <sip:user@host129.example.com>;expires=280297596632815\nContent-Length: 0\n\n",
    "scalarlg": "SIP/2.0 503 Service Unavailable\n"
    "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\n"
    "To: <sip:user@example.com>\nFrom: <sip:other@example.net>;tag=2easdjfejw\n"
    "CSeq: 9292394834772304023312 OPTIONS\nCall-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\n"
    'Retry-After: 949302838503028349304023988\nWarning: 1812 overture "In Progress"\nContent-Length: 0\n\n',
    "quotbal": 'INVITE sip:user@example.com SIP/2.0\nTo: "Mr. J. User <sip:j.user@example.com>\n'
    "From: sip:caller@example.net;tag=93334\nMax-Forwards: 10\nCall-ID: quotbal.aksdj\n"
    "Contact: <sip:caller@host59.example.net>\nCSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\nContent-Type: application/sdp\n"
    "Content-Length: 150\n\n" + SDP150.format(h=15, h2=15),
    "ltgtruri": "INVITE <sip:user@example.com> SIP/2.0\nTo: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=39291\nMax-Forwards: 23\nCall-ID: ltgtruri.1@192.0.2.5\n"
    "CSeq: 1 INVITE\nVia: SIP/2.0/UDP 192.0.2.5\nContact: <sip:caller@host5.example.net>\n"
    "Content-Length: 0\n\n",
    "lwsruri": "INVITE sip:user@example.com; lr SIP/2.0\nTo: sip:user@example.com;tag=3xfe-9921883-z9f\n"
    "From: sip:caller@example.net;tag=231413434\nMax-Forwards: 5\n"
    "Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\nCSeq: 2130706432 INVITE\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\nContent-Length: 0\n\n",
    "lwsstart": "INVITE  sip:user@example.com  SIP/2.0\nMax-Forwards: 8\nTo: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=8814\nCall-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\n"
    "CSeq: 1893884 INVITE\nVia: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\nContent-Length: 0\n\n",
    "trws": "OPTIONS sip:remote-target@example.com SIP/2.0  \n"
    "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK299342093\nTo: <sip:remote-target@example.com>\n"
    "From: <sip:local-resource@example.com>;tag=329429089\nCall-ID: trws.oicu34958239neffasdhr2345r\n"
    "Accept: application/sdp\nCSeq: 238923 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n",
    "escruri": "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\nTo: sip:user@example.com\n"
    "From: sip:caller@example.net;tag=341518\nMax-Forwards: 7\nContact: <sip:caller@host39923.example.net>\n"
    "Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\nCSeq: 149209342 INVITE\n"
    "Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\nContent-Length: 0\n\n",
    "regbadct": "REGISTER sip:example.com SIP/2.0\nTo: sip:user@example.com\n"
    "From: sip:user@example.com;tag=998332\nMax-Forwards: 70\nCall-ID: regbadct.k345asrl3fdbv@10.0.0.1\n"
    "CSeq: 1 REGISTER\nVia: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\n"
    "Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\nl: 0\n\n",
    "badaspec": "OPTIONS sip:user@example.org SIP/2.0\nVia: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\n"
    'Max-Forwards: 70\nFrom: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423\n'
    'To: "Watson, Thomas" < sip:t.watson@example.org >\nCall-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\n'
    "Accept: application/sdp\nCSeq: 3923239 OPTIONS\nl: 0\n\n",
    "baddn": "OPTIONS sip:t.watson@example.org SIP/2.0\nVia:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\n"
    "Max-Forwards:      70\nFrom:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\n"
    "To:      Watson, Thomas <sip:t.watson@example.org>\nCall-ID: baddn.31415@c.example.com\n"
    "Accept: application/sdp\nCSeq:    3923239 OPTIONS\nl: 0\n\n",
    "badvers": "OPTIONS sip:t.watson@example.org SIP/7.0\nVia:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\n"
    "Max-Forwards:     70\nFrom:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\n"
    "To:      T. Watson <sip:t.watson@example.org>\nCall-ID: badvers.31417@c.example.com\nCSeq:    1 OPTIONS\nl: 0\n\n",
    "mismatch01": "OPTIONS sip:user@example.com SIP/2.0\nTo: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=34525\nMax-Forwards: 6\nCall-ID: mismatch01.dj0234sxdfl3\nCSeq: 8 INVITE\n"
    "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\nl: 0\n\n",
    "mismatch02": "NEWMETHOD sip:user@example.com SIP/2.0\nTo: sip:j.user@example.com\n"
    "From: sip:caller@example.net;tag=34525\nMax-Forwards: 6\nCall-ID: mismatch02.dj0234sxdfl3\nCSeq: 8 INVITE\n"
    "Contact: <sip:caller@host.example.net>\nVia: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\nl: 0\n\n",
    "bigcode": "SIP/2.0 4294967301 better not break the receiver\nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
    "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\nCSeq: 353494 INVITE\n"
    "From: <sip:user@example.com>;tag=39ansfi3\nTo: <sip:user@example.edu>;tag=902jndnke3\nContent-Length: 0\n"
    "Contact: <sip:user@host105.example.com>\n\n",
    # §3.3.8 / §3.3.9: more than one value in single-value fields; two Content-Lengths.
    "multi01": "INVITE sip:user@company.com SIP/2.0\nContact: <sip:caller@host25.example.net>\n"
    "Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\nMax-Forwards: 70\nCSeq: 5 INVITE\n"
    "Call-ID: multi01.98asdh@192.0.2.1\nCSeq: 59 INVITE\nCall-ID: multi01.98asdh@192.0.2.2\n"
    "From: sip:caller@example.com;tag=3413415\nTo: sip:user@example.com\nTo: sip:other@example.net\n"
    "From: sip:caller@example.net;tag=2923420123\nl: 0\n\n",
    "mcl01": "OPTIONS sip:user@example.com SIP/2.0\nVia: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\n"
    "To: sip:user@example.com\nFrom: sip:other@example.net;tag=3923942\nCall-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\n"
    "CSeq: 15932 OPTIONS\nContent-Length: 13\nMax-Forwards: 60\nContent-Length: 5\n"
    "Content-Type: text/plain\n\nThere's no way to know how many octets are supposed to be here.\n",
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_messages_are_rejected_with_parse_error(name):
    with pytest.raises(SipParseError) as err:
        parse_message(crlf(INVALID[name]))
    assert err.value.status == (505 if name == "badvers" else 400)


def test_baddate_is_accepted_because_the_endpoint_does_not_use_date():
    # §3.1.2.12: Date with a non-GMT zone. An element that never interprets Date may ignore it.
    text = INVALID["ltgtruri"].replace("INVITE <sip:user@example.com> SIP/2.0", "INVITE sip:user@example.com SIP/2.0")
    msg = parse_message(crlf(text.replace("CSeq: 1 INVITE\n", "CSeq: 1 INVITE\nDate: Fri, 01 Jan 2010 16:00:00 EST\n")))
    assert msg.headers.get("Date").endswith("EST")
