"""INVITE floods per source: the token bucket alone (a fake clock), then a burst of real INVITEs
over UDP from two loopback addresses against a real endpoint."""

import asyncio
import uuid

import pytest

from telephony import AdmissionConfig, EndpointConfig, SipEndpoint
from telephony.ratelimit import SourceLimiter, Verdict
from telephony.sip_message import SipResponse

from tests.telephony.conftest import Peer, invite, sdp


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_burst_then_503_then_silence_then_refill():
    clock = Clock()
    lim = SourceLimiter(rate=2, burst=3, hard=2, clock=clock)
    verdicts = [lim.check("10.0.0.1") for _ in range(8)]
    assert verdicts == [Verdict.OK] * 3 + [Verdict.REJECT] * 2 + [Verdict.DROP] * 3
    assert lim.check("10.0.0.2") is Verdict.OK  # another source has its own bucket
    assert (lim.rejected, lim.dropped) == (2, 3)
    clock.t += 1.0  # 2 tokens back, but the flood left a debt: still refused
    assert lim.check("10.0.0.1") is not Verdict.OK
    clock.t += 5.0  # quiet for a while: full again
    assert [lim.check("10.0.0.1") for _ in range(3)] == [Verdict.OK] * 3
    assert lim.retry_after() == 1


def test_spoofed_sources_cannot_grow_the_table_without_bound():
    clock = Clock()
    lim = SourceLimiter(rate=1, burst=1, max_sources=100, clock=clock)
    for i in range(10_000):
        lim.check(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(lim._buckets) <= 100


@pytest.mark.parametrize("bad", [dict(rate=0, burst=1), dict(rate=1, burst=0), dict(rate=1, burst=1, hard=-1)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        SourceLimiter(**bad)


async def final_codes(peer, sent: int, quiet: float = 1.0) -> dict[str, int]:
    """Call-ID → first final status, collected until `quiet` seconds pass with no final response."""
    finals: dict[str, SipResponse] = {}
    try:
        while len(finals) < sent:
            m = await peer.expect(lambda m: isinstance(m, SipResponse) and m.status >= 200, timeout=quiet)
            finals.setdefault(m.call_id, m)
    except asyncio.TimeoutError:
        pass
    assert all(m.headers.get("Retry-After") == "2" for m in finals.values() if m.status == 503)
    return {cid: m.status for cid, m in finals.items()}


async def test_an_invite_flood_from_one_source_gets_503_then_silence_others_still_get_in():
    answered = []

    async def on_call(call):
        answered.append(call)
        await call.hangup()

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, admission=AdmissionConfig(limit_exempt=["127.0.0.3/32"])), on_call,
                     invite_limit=SourceLimiter(rate=0.5, burst=3, hard=3))
    await ep.start()
    flooder, other, proxy = Peer(), Peer(), Peer()
    loop = asyncio.get_running_loop()
    for peer, host in ((flooder, "127.0.0.2"), (other, "127.0.0.1"), (proxy, "127.0.0.3")):
        peer.transport, _ = await loop.create_datagram_endpoint(lambda p=peer: p, local_addr=(host, 0))
        peer.port = peer.transport.get_extra_info("sockname")[1]
    try:
        for i in range(12):
            flooder.send(invite(f"flood-{i}-{uuid.uuid4().hex[:6]}", f"z9hG4bKf{i}"), ep, sdp(40000 + 2 * i))
        codes = await final_codes(flooder, 12)
        assert sorted(codes.values()) == [200, 200, 200, 503, 503, 503], codes  # the rest got nothing at all
        # Another address and the exempt proxy are not held back by the flood.
        for peer in (other, proxy):
            for i in range(4):
                peer.send(invite(f"ok-{peer.port}-{i}", f"z9hG4bKo{peer.port}{i}"), ep, sdp(41000 + 2 * i))
        assert sorted((await final_codes(other, 4)).values()) == [200, 200, 200, 503]  # its own burst of 3
        assert sorted((await final_codes(proxy, 4)).values()) == [200, 200, 200, 200]  # exempt
        stats = ep.stats()
        assert stats["invites_rejected"] == 3 + 1 and stats["invites_dropped"] == 6
    finally:
        await ep.stop()
        for peer in (flooder, other, proxy):
            peer.transport.close()
