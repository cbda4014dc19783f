"""The endpoint driven by a scripted raw-UDP phone on loopback: CANCEL, hold, INFO, 488, 400,
RTP timeout, Record-Route routing, transaction clean-up, plus transaction timers and pacing."""

import asyncio
import time

import numpy as np
import pytest

from dataclasses import replace

from telephony import Call, EndpointConfig, MediaConfig, SipEndpoint, TimingConfig, Timers
from telephony.g711 import ulaw_encode
from telephony.media import RtpSession, bind_rtp_pair
from telephony.rtp import parse_rtp
from telephony.sdp import MediaParams
from telephony.sip_dialog import Dialog
from telephony.sip_message import SipRequest, SipResponse, parse_message
from telephony.sip_transaction import (
    ClientTransaction, InviteClientTransaction, InviteServerTransaction, ServerTransaction, State,
)

FAST = Timers(t1=0.02, t2=0.08, t4=0.1, d=0.2)


class Peer(asyncio.DatagramProtocol):
    """A scripted phone: sends text SIP, collects what comes back."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        try:
            self.inbox.put_nowait(parse_message(data))
        except Exception:
            self.inbox.put_nowait(data)

    async def open(self):
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    def send(self, text: str, ep: SipEndpoint, body: bytes = b"") -> None:
        text = text.format(port=self.port, ep=ep.port).strip("\n").replace("\n", "\r\n")
        self.transport.sendto(text.encode() + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body,
                              ("127.0.0.1", ep.port))

    async def expect(self, pred=lambda m: True, timeout=2.0):
        end = time.monotonic() + timeout
        while True:
            msg = await asyncio.wait_for(self.inbox.get(), max(0.01, end - time.monotonic()))
            if pred(msg):
                return msg


def sdp(port: int, fmts="0 101", extra="") -> bytes:
    return (f"v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {fmts}\r\n"
            f"a=rtpmap:101 telephone-event/8000\r\n{extra}").encode()


def invite(cid: str, branch: str, cseq: int = 1, to_tag: str = "", rr: str = "") -> str:
    return (f"INVITE sip:bot@127.0.0.1:{{ep}} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{{port}};branch={branch};rport\n"
            f"From: <sip:caller@127.0.0.1>;tag=ft\nTo: <sip:bot@127.0.0.1>{';tag=' + to_tag if to_tag else ''}\n"
            f"Call-ID: {cid}\nCSeq: {cseq} INVITE\nContact: <sip:caller@127.0.0.1:{{port}}>\nMax-Forwards: 70\n"
            f"{rr}Content-Type: application/sdp")


def simple(method: str, cid: str, branch: str, cseq: int, to_tag: str = "", ctype: str = "") -> str:
    return (f"{method} sip:bot@127.0.0.1:{{ep}} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{{port}};branch={branch}\n"
            f"From: <sip:caller@127.0.0.1>;tag=ft\nTo: <sip:bot@127.0.0.1>{';tag=' + to_tag if to_tag else ''}\n"
            f"Call-ID: {cid}\nCSeq: {cseq} {method}\nMax-Forwards: 70" + (f"\nContent-Type: {ctype}" if ctype else ""))


def status(code):
    return lambda m: isinstance(m, SipResponse) and m.status == code


@pytest.fixture
async def rig():
    calls: list[Call] = []

    async def on_call(call: Call) -> None:
        calls.append(call)
        await call.ended.wait()

    config = EndpointConfig("127.0.0.1", 0, media=MediaConfig(rtp_ports=(50000, 52000), rtp_timeout=0.6),
                            timing=TimingConfig(FAST, answer_delay=0.3))
    ep = SipEndpoint(config, on_call)
    await ep.start()
    peer = await Peer().open()
    yield ep, peer, calls
    peer.transport.close()
    await ep.stop()


async def answered(ep, peer, cid, body=None, rr=""):
    peer.send(invite(cid, f"z9hG4bK{cid}", rr=rr), ep, body if body is not None else sdp(40000))
    ok = await peer.expect(status(200), 3)
    peer.send(simple("ACK", cid, f"z9hG4bK{cid}ack", 1, ok.to.tag).replace("CSeq: 1 ACK", "CSeq: 1 ACK"), ep)
    return ok


async def test_cancel_before_answer_gets_487(rig):
    ep, peer, calls = rig
    peer.send(invite("c1", "z9hG4bKc1"), ep, sdp(40000))
    ringing = await peer.expect(status(180))
    assert ringing.to.tag
    cancel = simple("CANCEL", "c1", "z9hG4bKc1", 1)
    peer.send(cancel, ep)
    got = [await peer.expect(lambda m: isinstance(m, SipResponse) and m.status in (200, 487)) for _ in range(2)]
    assert sorted((m.status, m.cseq.method) for m in got) == [(200, "CANCEL"), (487, "INVITE")]
    peer.send(simple("ACK", "c1", "z9hG4bKc1", 1, ringing.to.tag), ep)
    await asyncio.sleep(0.4)
    assert not calls and not ep.legs
    assert await _drained(ep)


async def _drained(ep, timeout=3.0):
    end = time.monotonic() + timeout
    while ep.server_tx or ep.client_tx or ep.legs:
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_hold_unhold_info_dtmf_and_remote_bye(rig):
    ep, peer, calls = rig
    ok = await answered(ep, peer, "c2")
    assert ok.content_type == "application/sdp" and b"a=sendrecv" in ok.body
    assert ok.headers.get("Contact") and "INFO" in ok.headers.get("Allow")
    await asyncio.sleep(0.05)
    (call,) = calls
    tag = ok.to.tag
    peer.send(invite("c2", "z9hG4bKre1", cseq=2, to_tag=tag), ep, sdp(40000, extra="a=sendonly\r\n"))
    held = await peer.expect(status(200))
    assert b"a=recvonly" in held.body and call.on_hold
    peer.send(simple("ACK", "c2", "z9hG4bKre1a", 2, tag), ep)
    peer.send(invite("c2", "z9hG4bKre2", cseq=3, to_tag=tag), ep, sdp(40000, extra="a=inactive\r\n"))
    assert b"a=inactive" in (await peer.expect(status(200))).body
    peer.send(simple("ACK", "c2", "z9hG4bKre2a", 3, tag), ep)
    peer.send(invite("c2", "z9hG4bKre3", cseq=4, to_tag=tag), ep, sdp(40000))
    assert b"a=sendrecv" in (await peer.expect(status(200))).body and not call.on_hold
    peer.send(simple("ACK", "c2", "z9hG4bKre3a", 4, tag), ep)
    peer.send(simple("INFO", "c2", "z9hG4bKi1", 5, tag, "application/dtmf-relay"), ep, b"Signal=7\r\nDuration=160\r\n")
    await peer.expect(status(200))
    assert await asyncio.wait_for(call.dtmf.get(), 1) == "7"
    peer.send(simple("INFO", "c2", "z9hG4bKi2", 4, tag), ep)  # CSeq went backwards
    await peer.expect(status(500))
    peer.send(simple("BYE", "c2", "z9hG4bKb1", 6, tag), ep)
    await peer.expect(status(200))
    await asyncio.wait_for(call.ended.wait(), 1)
    assert call.end_reason == "remote_bye"
    peer.send(simple("BYE", "c2", "z9hG4bKb2", 7, tag), ep)
    await peer.expect(status(481))
    assert await _drained(ep)


async def test_no_common_codec_488_bad_sdp_400_and_malformed_400(rig):
    ep, peer, calls = rig
    peer.send(invite("c3", "z9hG4bKc3"), ep, sdp(40000, fmts="18"))
    r = await peer.expect(lambda m: isinstance(m, SipResponse) and m.status >= 200)
    assert r.status == 488
    peer.send(simple("ACK", "c3", "z9hG4bKc3", 1, r.to.tag or ""), ep)
    peer.send(invite("c4", "z9hG4bKc4"), ep, b"this is not sdp")
    assert (await peer.expect(lambda m: isinstance(m, SipResponse) and m.status >= 200)).status == 400
    # syntactically broken (CSeq method mismatch) but addressable: 400 to the source
    peer.send(simple("OPTIONS", "c5", "z9hG4bKc5", 1).replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"), ep)
    bad = await peer.expect(lambda m: isinstance(m, SipResponse))
    assert bad.status == 400 and bad.call_id == "c5"
    peer.send(simple("BYE", "c6", "z9hG4bKc6", 1), ep)
    assert (await peer.expect(lambda m: isinstance(m, SipResponse))).status == 481
    peer.send(simple("REGISTER", "c7", "z9hG4bKc7", 1), ep)
    assert (await peer.expect(lambda m: isinstance(m, SipResponse))).status == 405
    peer.send(simple("OPTIONS", "c8", "z9hG4bKc8", 1).replace("Max-Forwards: 70", "Require: 100rel"), ep)
    assert (await peer.expect(lambda m: isinstance(m, SipResponse))).status == 420
    assert not calls


async def test_rtp_timeout_ends_call_with_bye_routed_by_record_route(rig):
    ep, peer, calls = rig
    # the "proxy" in the Record-Route is the peer itself, on a different URI than its Contact
    rr = "Record-Route: <sip:proxy@127.0.0.1:{port};lr>\n"
    ok = await answered(ep, peer, "c9", rr=rr)
    assert ok.headers.get("Record-Route") == f"<sip:proxy@127.0.0.1:{peer.port};lr>"
    bye = await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "BYE", 3)
    assert bye.headers.get("Route") == f"<sip:proxy@127.0.0.1:{peer.port};lr>"
    assert bye.uri == f"sip:caller@127.0.0.1:{peer.port}"
    bye_resp = SipResponse(200, headers=bye.headers.copy())
    peer.transport.sendto(bye_resp.serialize(), ("127.0.0.1", ep.port))
    (call,) = calls
    await asyncio.wait_for(call.ended.wait(), 2)
    assert call.end_reason == "rtp_timeout"
    assert await _drained(ep)


async def test_unacked_2xx_is_retransmitted_then_call_ended(rig):
    ep, peer, calls = rig
    ep.config = replace(ep.config, media=replace(ep.config.media, rtp_timeout=30.0))
    peer.send(invite("c10", "z9hG4bKc10"), ep, sdp(40000))
    oks = [await peer.expect(status(200), 2) for _ in range(3)]  # the original and retransmissions
    assert len({o.to.tag for o in oks}) == 1
    bye = await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "BYE", 3)
    assert bye.call_id == "c10"
    (call,) = calls
    await asyncio.wait_for(call.ended.wait(), 6)
    assert call.end_reason == "ack_timeout"


async def test_delayed_offer_invite_gets_offer_in_200_and_answer_in_ack(rig):
    ep, peer, calls = rig
    peer.send(invite("c11", "z9hG4bKc11").replace("\nContent-Type: application/sdp", ""), ep)
    ok = await peer.expect(status(200), 2)
    assert b"m=audio" in ok.body
    peer.send(simple("ACK", "c11", "z9hG4bKc11a", 1, ok.to.tag, "application/sdp"), ep, sdp(40002, fmts="8"))
    await asyncio.sleep(0.1)
    assert calls[0].codec == "PCMA"
    await calls[0].hangup()
    assert calls[0].end_reason == "local_bye"


# ---- transactions with fast timers ------------------------------------------------------------

def _req(method="OPTIONS") -> SipRequest:
    r = SipRequest(method, "sip:x@127.0.0.1")
    for k, v in [("Via", "SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bKt"), ("From", "<sip:a@b>;tag=1"), ("To", "<sip:x@y>"),
                 ("Call-ID", "t"), ("CSeq", f"1 {method}"), ("Max-Forwards", "70")]:
        r.headers.add(k, v)
    return r


async def test_client_timers_e_f_and_a_b_and_k():
    sent: list[bytes] = []
    timeouts = []
    tx = ClientTransaction(_req(), sent.append, FAST, False, lambda r: None, lambda: timeouts.append(1))
    tx.start()
    await asyncio.sleep(FAST.b + 0.1)
    # E doubles from T1 to T2: 0, .02, .06, .14, .22, ... until F at 64*T1 = 1.28 s
    assert 10 <= len(sent) <= 20 and timeouts == [1] and tx.state is State.TERMINATED
    sent.clear()
    itx = InviteClientTransaction(_req("INVITE"), sent.append, FAST, False, lambda r: None, lambda: timeouts.append(2))
    itx.start()
    await asyncio.sleep(FAST.b + 0.1)
    assert 6 <= len(sent) <= 8 and timeouts[-1] == 2  # A doubles without cap: 7 sends within 64*T1
    done = []
    tx = ClientTransaction(_req(), sent.append, FAST, False, done.append)
    tx.start()
    tx.receive_response(SipResponse(200, headers=_req().headers))
    assert done and tx.state is State.COMPLETED
    await asyncio.sleep(FAST.t4 + 0.05)
    assert tx.state is State.TERMINATED  # timer K


async def test_server_invite_timers_g_h_i_and_non_invite_j():
    sent: list[bytes] = []
    timed_out = []
    tx = InviteServerTransaction(_req("INVITE"), sent.append, FAST, False, on_timeout=lambda: timed_out.append(1))
    tx.respond(SipResponse(486, headers=_req("INVITE").headers))
    await asyncio.sleep(0.2)
    assert len(sent) >= 3  # G retransmits the final response
    await asyncio.sleep(FAST.b)
    assert timed_out == [1] and tx.state is State.TERMINATED  # H: no ACK
    sent.clear()
    tx = InviteServerTransaction(_req("INVITE"), sent.append, FAST, False)
    tx.respond(SipResponse(486, headers=_req("INVITE").headers))
    tx.receive_ack(_req("ACK"))
    assert tx.state is State.CONFIRMED
    tx.receive_retransmission(_req("INVITE"))
    await asyncio.sleep(FAST.t4 + 0.05)
    assert tx.state is State.TERMINATED  # I
    nt = ServerTransaction(_req(), sent.append, FAST, False)
    nt.respond(SipResponse(200, headers=_req().headers))
    n = len(sent)
    nt.receive_retransmission(_req())
    assert len(sent) == n + 1  # a retransmitted request gets the response again
    await asyncio.sleep(FAST.b + 0.05)
    assert nt.state is State.TERMINATED  # J
    rt = ServerTransaction(_req(), sent.append, FAST, True)
    rt.respond(SipResponse(200, headers=_req().headers))
    await asyncio.sleep(0.01)
    assert rt.state is State.TERMINATED  # J is zero on reliable transports


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


async def test_media_pacing_is_drift_free_and_sends_silence():
    rtp, rtcp, port = await bind_rtp_pair("127.0.0.1", (52000, 54000))
    sink = Peer()
    loop = asyncio.get_running_loop()
    got: list[tuple[float, bytes]] = []
    sink.datagram_received = lambda data, addr: got.append((time.monotonic(), data))
    transport, _ = await loop.create_datagram_endpoint(lambda: sink, local_addr=("127.0.0.1", 0))
    sink_port = transport.get_extra_info("sockname")[1]
    media = RtpSession(rtp, rtcp, port)
    media.configure(MediaParams([("PCMU", 0)], 101, ("127.0.0.1", sink_port), "sendrecv"))
    tone = (np.sin(np.arange(1600) / 8000 * 2 * np.pi * 300) * 5000).astype("<i2").tobytes()
    media.play(tone)  # 200 ms
    media.start()
    await asyncio.sleep(1.0)
    await media.close()
    transport.close()
    pkts = [(t, parse_rtp(d)) for t, d in got]
    assert 45 <= len(pkts) <= 52
    seqs = [p.sequence for _, p in pkts]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:]))
    assert all((b.timestamp - a.timestamp) % 2**32 == 160 for (_, a), (_, b) in zip(pkts, pkts[1:]))
    span = pkts[-1][0] - pkts[0][0]
    assert abs(span - 0.02 * (len(pkts) - 1)) < 0.03  # absolute deadlines: no accumulated drift
    assert pkts[0][1].payload == ulaw_encode(np.frombuffer(tone[:320], "<i2"))
    assert pkts[0][1].marker and not pkts[1][1].marker
    assert set(pkts[-1][1].payload) == {0xFF}  # µ-law silence once the queue ran dry


# ---- TCP and the UAC side ---------------------------------------------------------------------

async def test_options_over_tcp_answered_on_the_same_connection(rig):
    ep, _, _ = rig
    reader, writer = await asyncio.open_connection("127.0.0.1", ep.port)
    msg = simple("OPTIONS", "t1", "z9hG4bKt1", 1).format(port=1, ep=ep.port).replace("UDP", "TCP").replace("\n", "\r\n")
    writer.write(b"\r\n\r\n" + msg.encode() + b"\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    resp = parse_message(data)
    assert resp.status == 200 and "INVITE" in resp.headers.get("Allow")
    writer.write(b"INVITE sip:x SIP/2.0\r\nContent-Length: nope\r\n\r\n")  # framing lost → connection closed
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()


def _reply(req: SipRequest, code: int, tag: str = "uas", extra: str = "", body: bytes = b"") -> bytes:
    r = SipResponse(code)
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for v in req.headers.get_all(name):
            r.headers.add(name, v + (f";tag={tag}" if name == "To" and code > 100 else ""))
    for line in filter(None, extra.split("\n")):
        r.headers.add(*line.split(": ", 1))
    if body:
        r.headers.add("Content-Type", "application/sdp")
    r.body = body
    return r.serialize()


async def test_uac_invite_with_headers_auth_busy_and_ring_timeout(rig):
    ep, peer, _ = rig
    dest = ("127.0.0.1", ep.port)
    target = f"sip:agent@127.0.0.1:{peer.port}"

    async def uas_script():
        # 1) digest challenge, then answer
        inv = await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "INVITE")
        peer.transport.sendto(_reply(inv, 401, extra='WWW-Authenticate: Digest realm="pbx", nonce="abc", qop="auth"'), dest)
        await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "ACK")
        inv2 = await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "INVITE")
        assert inv2.headers.get("Authorization").startswith("Digest username=\"agent1\"")
        assert inv2.headers.get("X-Summary") == "caller is angry about billing"
        peer.transport.sendto(_reply(inv2, 180), dest)
        peer.transport.sendto(_reply(inv2, 200, extra=f"Contact: <sip:agent@127.0.0.1:{peer.port}>",
                                     body=sdp(40010, fmts="8 101")), dest)
        await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "ACK")
        bye = await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "BYE")
        peer.transport.sendto(_reply(bye, 200), dest)
        # 2) busy
        inv = await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "INVITE")
        peer.transport.sendto(_reply(inv, 486), dest)
        # 3) rings forever: expect CANCEL, answer 200 + 487
        inv = await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "INVITE")
        peer.transport.sendto(_reply(inv, 180), dest)
        cancel = await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "CANCEL", 3)
        assert cancel.top_via.branch == inv.top_via.branch
        peer.transport.sendto(_reply(cancel, 200), dest)
        peer.transport.sendto(_reply(inv, 487), dest)
        await peer.expect(lambda m: isinstance(m, SipRequest) and m.method == "ACK")

    script = asyncio.create_task(uas_script())
    call = await ep.invite(target, headers=[("X-Summary", "caller is angry about billing")],
                           credentials=("agent1", "secret"))
    assert call.codec == "PCMA" and call.direction == "outbound"
    await call.hangup()
    assert call.end_reason == "local_bye"
    from telephony import CallFailed
    with pytest.raises(CallFailed) as busy:
        await ep.invite(target)
    assert busy.value.status == 486
    with pytest.raises(CallFailed) as noanswer:
        await ep.invite(target, ring_timeout=0.3)
    assert noanswer.value.status == 408
    await asyncio.wait_for(script, 3)
    assert await _drained(ep, 5)


async def test_a_stall_of_our_own_loop_loses_no_caller_audio():
    """The caller keeps sending while our event loop is busy for 120 ms; afterwards the packets
    that queued in the socket must reach the jitter buffer before the catch-up ticks pop it,
    or they are counted late and dropped (audio lost, and the buffer's delay grown for nothing)."""
    import socket
    import threading

    from telephony.rtp import RtpPacket

    rtp, rtcp, port = await bind_rtp_pair("127.0.0.1", (52000, 54000))
    media = RtpSession(rtp, rtcp, port)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    media.configure(MediaParams([("PCMU", 0)], 101, peer.getsockname(), "sendrecv"))
    media.start()
    n_packets = 40
    tone = ulaw_encode((np.sin(np.arange(160) / 8000 * 2 * np.pi * 300) * 8000).astype(np.int16))

    def send() -> None:  # a paced caller in its own thread: it goes on while our loop stalls
        t0 = time.monotonic()
        for i in range(n_packets):
            time.sleep(max(0.0, t0 + i * 0.02 - time.monotonic()))
            peer.sendto(RtpPacket(0, i, i * 160, 1234, tone, i == 0).serialize(), ("127.0.0.1", port))

    sender = threading.Thread(target=send)
    sender.start()
    voiced = 0
    for i in range(n_packets + 10):
        frame = await asyncio.wait_for(media.frames.get(), 2)
        voiced += bool(np.any(np.frombuffer(frame, dtype=np.int16)))
        if i == 15:
            time.sleep(0.12)  # our own loop busy (a long callback), not a wait for anything
    sender.join()
    await media.close()
    peer.close()
    assert media.jb.late == 0 and media.jb.grown == 0
    assert voiced >= n_packets - 1  # every packet played (the first may be halved by start-up)
