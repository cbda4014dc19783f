"""An agent's phone REGISTERs (digest auth) with the IVR's SIP endpoint; the directory learns where to
ring them, the queue picks them, and the IVR's INVITE reaches that phone. All on loopback."""

import asyncio

import pytest

from routing.agents import AgentDirectory, Presence
from routing.queue import CallQueue
from telephony import DigestRegistrar, EndpointConfig, MediaConfig, SipEndpoint, TimingConfig, Timers
from telephony.digest import digest_authorization
from telephony.sip_message import parse_message

FAST = Timers(t1=0.05, t4=0.2)


class RegisteringClient(asyncio.DatagramProtocol):
    """A bare UDP REGISTER client (the softphone's registration side)."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.cseq = 0

    def datagram_received(self, data, addr):
        self.inbox.put_nowait(parse_message(data))

    async def open(self):
        self.transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    async def _send(self, registrar_port, user, contact, expires, auth):
        self.cseq += 1
        lines = [f"REGISTER sip:127.0.0.1:{registrar_port} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bKr{self.cseq};rport", "Max-Forwards: 70",
                 f"From: <sip:{user}@127.0.0.1>;tag=t{self.cseq}", f"To: <sip:{user}@127.0.0.1>", "Call-ID: reg-agent",
                 f"CSeq: {self.cseq} REGISTER", f"Contact: <{contact}>", f"Expires: {expires}"]
        if auth:
            lines.append(f"{auth[0]}: {auth[1]}")
        self.transport.sendto(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode(), ("127.0.0.1", registrar_port))
        return await asyncio.wait_for(self.inbox.get(), 2.0)

    async def register(self, registrar_port, user, password, contact, expires=300) -> int:
        first = await self._send(registrar_port, user, contact, expires, None)
        if first.status != 401:
            return first.status
        auth = digest_authorization(first, "REGISTER", f"sip:127.0.0.1:{registrar_port}", user, password)
        return (await self._send(registrar_port, user, contact, expires, auth)).status


@pytest.fixture
async def ivr():
    directory = AgentDirectory(["alice=;password=wonderland;skills=billing", "bob=sip:bob@127.0.0.1:9;password=builder"])
    registrar = DigestRegistrar(directory.credentials_for, directory.on_register, realm="ivr")

    async def on_call(call):
        await call.ended.wait()

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, media=MediaConfig(rtp_ports=(42000, 43000)),
                                    timing=TimingConfig(FAST, answer_delay=0.01)), on_call, registrar=registrar)
    await ep.start()
    client = await RegisteringClient().open()
    yield ep, directory, client
    client.transport.close()
    await ep.stop()


async def test_registered_agent_is_rung_at_their_registered_contact(ivr):
    ep, directory, client = ivr
    answered = asyncio.Event()

    async def phone_rings(call):
        answered.set()
        await call.ended.wait()

    phone = SipEndpoint(EndpointConfig("127.0.0.1", 0, media=MediaConfig(rtp_ports=(43000, 44000)),
                                       timing=TimingConfig(FAST, answer_delay=0.01)), phone_rings)
    await phone.start()
    queue = CallQueue(directory)
    try:
        assert directory.longest_idle("billing") is None  # alice has no static URI and is not registered yet
        contact = f"sip:alice@127.0.0.1:{phone.port}"
        assert await client.register(ep.port, "alice", "wonderland", contact, expires=300) == 200
        assert directory.contact_uri("alice") == contact
        agent = await queue.wait_for_agent("call-1", "billing", timeout=1)
        assert agent.id == "alice" and directory.presence("alice") is Presence.RINGING
        call = await ep.invite(directory.contact_uri(agent.id), headers=[("X-Call-Reason", "frustration")], ring_timeout=3)
        queue.answered("alice", "call-1")
        await asyncio.wait_for(answered.wait(), 2)
        assert directory.presence("alice") is Presence.ON_CALL
        await call.hangup()
        queue.hangup("alice")
        queue.release("alice")
        assert directory.presence("alice") is Presence.AVAILABLE and len(queue.handle_times) == 1
    finally:
        queue.close()
        await phone.stop()


async def test_wrong_password_and_unknown_agent_do_not_change_contacts(ivr):
    ep, directory, client = ivr
    assert await client.register(ep.port, "bob", "guess", "sip:bob@127.0.0.1:7777") == 403
    assert directory.contact_uri("bob") == "sip:bob@127.0.0.1:9"
    assert await client.register(ep.port, "mallory", "x", "sip:mallory@127.0.0.1:7777") == 403  # the same as a wrong password: no name told apart
    assert await client.register(ep.port, "bob", "builder", "sip:bob@127.0.0.1:7777", expires=120) == 200
    assert directory.contact_uri("bob") == "sip:bob@127.0.0.1:7777"
    assert await client.register(ep.port, "bob", "builder", "sip:bob@127.0.0.1:7777", expires=0) == 200
    assert directory.contact_uri("bob") == "sip:bob@127.0.0.1:9"


async def test_registration_expiry_is_honoured(ivr):
    ep, directory, client = ivr
    clock = [1000.0]
    directory.clock = lambda: clock[0]
    ep.registrar.clock = directory.clock
    assert await client.register(ep.port, "alice", "wonderland", "sip:alice@127.0.0.1:6001", expires=60) == 200
    clock[0] += 59
    assert directory.contact_uri("alice") == "sip:alice@127.0.0.1:6001"
    clock[0] += 2
    assert directory.contact_uri("alice") is None and ep.registrar.live("alice") == {}
