"""The RFC 3261 §17 transaction state machines with fast timers: E/F, A/B, K on the client side,
G/H/I and J on the server side (J is zero on reliable transports)."""

import asyncio

from telephony.sip_message import SipRequest, SipResponse
from telephony.sip_transaction import (
    ClientTransaction, InviteClientTransaction, InviteServerTransaction, ServerTransaction, State,
)

from tests.telephony.conftest import FAST


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
