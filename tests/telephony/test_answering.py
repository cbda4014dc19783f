"""The answering role (UAS) driven by a scripted raw-UDP phone on loopback: CANCEL, hold, INFO,
488, 400, RTP timeout, Record-Route routing, an unacknowledged 2xx, a delayed offer."""

import asyncio
from dataclasses import replace

from telephony.sip_message import SipRequest, SipResponse

from tests.telephony.conftest import answered, drained, invite, sdp, simple, status


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
    assert await drained(ep)


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
    assert await drained(ep)


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
    peer.send(simple("OPTIONS", "c8", "z9hG4bKc8", 1).replace("Max-Forwards: 70", "Require: frobnicate"), ep)
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
    assert await drained(ep)


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
