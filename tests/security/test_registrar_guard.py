"""The registrar with the store's guard, on loopback: a source that keeps answering wrong gets
nothing (no transaction, no reply), later 403 without its answer being checked; the same steps
for a known and a made-up name; behind a trusted proxy the guessing client is counted, not the proxy."""

from __future__ import annotations

import asyncio

import pytest

from store import Store
from store.auth_guard import AuthFailures
from telephony import DigestRegistrar, EndpointConfig, SipEndpoint, TimingConfig, Timers
from telephony.digest import digest_authorization, ha1
from telephony.sip_message import parse_message
from telephony.sip_transport import Source


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def request(user: str, *, auth: tuple[str, str] | None = None, vias: tuple[str, ...] = ("127.0.0.1:5999",),
            cseq: int = 1):
    lines = ["REGISTER sip:127.0.0.1 SIP/2.0", *[f"Via: SIP/2.0/UDP {v};branch=z9hG4bK{cseq}{i}" for i, v in enumerate(vias)],
             f"From: <sip:{user}@127.0.0.1>;tag=f{cseq}", f"To: <sip:{user}@127.0.0.1>", f"Call-ID: c{cseq}",
             f"CSeq: {cseq} REGISTER", f"Contact: <sip:{user}@127.0.0.1:5999>", "Expires: 120"]
    if auth:
        lines.append(f"{auth[0]}: {auth[1]}")
    return parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())


@pytest.fixture
def rig(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/ivr.db", listen=False)
    clock = Clock()
    guard = AuthFailures(store.engine, clock=clock)
    creds = {"alice": {alg: ha1("alice", "ivr", "7391", alg) for alg in ("MD5", "SHA-256")}}
    registrar = DigestRegistrar(creds.get, realm="ivr", guard=guard.guard("sip"), trusted=lambda ip: ip == "10.0.0.2")
    yield registrar, guard, clock
    store.close()


def attempt(registrar, user: str, password: str, source: Source, cseq: int, vias=("127.0.0.1:5999",)):
    challenge = registrar.handle(request(user, vias=vias, cseq=cseq), source)
    if challenge is None or challenge[0] != 401:
        return challenge
    from telephony.sip_message import SipResponse

    resp = SipResponse(401)
    for name, value in challenge[2]:
        resp.headers.add(name, value)
    auth = digest_authorization(resp, "REGISTER", "sip:127.0.0.1", user, password)
    return registrar.handle(request(user, auth=auth, vias=vias, cseq=cseq + 1), source)


def test_a_guessing_source_is_dropped_then_forbidden(rig):
    registrar, guard, clock = rig
    src = Source("UDP", ("203.0.113.5", 5060))
    answers = [attempt(registrar, user, f"{i:04d}", src, 2 * i) for i, user in enumerate(["alice", "zed"] * 3)]
    assert [a[0] if a else None for a in answers] == [403, 403, 403, 403, 403, None]  # five wrong, then silence
    assert attempt(registrar, "alice", "7391", src, 100) is None  # even the right password: not looked at
    assert attempt(registrar, "alice", "7391", Source("UDP", ("198.51.100.7", 5060)), 200)[0] == 200  # another phone
    clock.t += 61
    for i in range(5):
        attempt(registrar, "alice", f"{i:04d}", src, 300 + 2 * i)
    assert registrar.handle(request("alice", cseq=400), src) == (403, "Forbidden", [])  # second block: 403 at once
    assert guard.blocked_for("sip", source="203.0.113.5") == pytest.approx(120)


def test_behind_a_trusted_proxy_the_client_is_counted_not_the_proxy(rig):
    registrar, guard, _ = rig
    proxy = Source("UDP", ("10.0.0.2", 5060))
    vias = ("10.0.0.2:5060", "192.168.1.50:5060;received=203.0.113.77")  # Kamailio's Via, then the client's
    for i in range(5):
        assert attempt(registrar, "alice", f"{i:04d}", proxy, 2 * i, vias=vias)[0] == 403
    assert guard.refusal("sip", "203.0.113.77") == "drop" and guard.refusal("sip", "10.0.0.2") is None
    other = ("10.0.0.2:5060", "192.168.1.60:5060;received=198.51.100.9")
    assert attempt(registrar, "alice", "7391", proxy, 50, vias=other)[0] == 200  # other phones behind it still register


async def test_a_dropped_source_gets_no_reply_on_the_wire(rig):
    registrar, guard, _ = rig
    for _ in range(5):
        guard.failed("sip", "alice", "127.0.0.1")
    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, timing=TimingConfig(Timers(t1=0.05, t4=0.2))), lambda call: None,
                     registrar=registrar)
    await ep.start()
    loop = asyncio.get_running_loop()
    got: asyncio.Queue = asyncio.Queue()

    class Peer(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            got.put_nowait(parse_message(data))

    transport, _ = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        transport.sendto(bytes(request("alice", vias=(f"127.0.0.1:{port}",)).serialize()), ("127.0.0.1", ep.port))
        options = (f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKo1\r\n"
                   f"From: <sip:x@127.0.0.1>;tag=o\r\nTo: <sip:127.0.0.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\n"
                   "Content-Length: 0\r\n\r\n").encode()
        transport.sendto(options, ("127.0.0.1", ep.port))  # sent after the REGISTER, on the same path
        first = await asyncio.wait_for(got.get(), 2.0)
        assert first.status == 200 and first.headers.get("CSeq") == "1 OPTIONS"  # the REGISTER got nothing
        assert ep.stats()["server_transactions"] == 1  # the OPTIONS only: no transaction for the dropped one
    finally:
        transport.close()
        await ep.stop()
