"""The calling-out role (UAC) against a scripted raw-UDP phone: headers ride on the INVITE, a
digest challenge is answered once, busy is reported, and an unanswered INVITE is CANCELled."""

import asyncio

import pytest

from telephony import CallFailed
from telephony.sip_message import SipRequest, SipResponse

from tests.telephony.conftest import drained, sdp


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
    with pytest.raises(CallFailed) as busy:
        await ep.invite(target)
    assert busy.value.status == 486
    with pytest.raises(CallFailed) as noanswer:
        await ep.invite(target, ring_timeout=0.3)
    assert noanswer.value.status == 408
    await asyncio.wait_for(script, 3)
    assert await drained(ep, 5)
