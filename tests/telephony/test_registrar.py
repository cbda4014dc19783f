"""REGISTER with digest authentication against the endpoint's registrar, on loopback: a scripted
raw-UDP phone (challenge, good/bad/unknown credentials, expiry rules) and sipp as a real client."""

import asyncio
import shutil
import socket

import pytest

from telephony import DigestRegistrar, EndpointConfig, Registration, SipEndpoint, TimingConfig, Timers
from telephony.digest import digest_authorization, parse_digest
from telephony.sip_message import SipResponse, parse_message

PASSWORDS = {"alice": "wonderland", "bob": "builder"}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Phone(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.cseq = 0

    def datagram_received(self, data, addr):
        self.inbox.put_nowait(parse_message(data))

    async def open(self):
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    async def register(self, ep: SipEndpoint, user: str, *, auth: tuple[str, str] | None = None,
                       contact: str | None = None, expires: int | None = 120, call_id: str = "reg-1") -> SipResponse:
        self.cseq += 1
        contact = contact if contact is not None else f"<sip:{user}@127.0.0.1:{self.port}>"
        lines = [
            f"REGISTER sip:127.0.0.1:{ep.port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{call_id}{self.cseq};rport",
            "Max-Forwards: 70",
            f"From: <sip:{user}@127.0.0.1>;tag=f{self.cseq}",
            f"To: <sip:{user}@127.0.0.1>",
            f"Call-ID: {call_id}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: {contact}",
        ]
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if auth is not None:
            lines.append(f"{auth[0]}: {auth[1]}")
        data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
        self.transport.sendto(data, ("127.0.0.1", ep.port))
        return await asyncio.wait_for(self.inbox.get(), 2.0)

    async def login(self, ep, user, password, **kw) -> SipResponse:
        """REGISTER, answer the 401 challenge, return the final response."""
        first = await self.register(ep, user, **kw)
        if first.status != 401:
            return first
        auth = digest_authorization(first, "REGISTER", f"sip:127.0.0.1:{ep.port}", user, password)
        return await self.register(ep, user, auth=auth, **kw)


@pytest.fixture
async def registrar_rig():
    clock = Clock()
    seen: list[Registration] = []

    def on_register(reg: Registration):
        seen.append(reg)
        return None

    registrar = DigestRegistrar(PASSWORDS.get, on_register, realm="ivr.test", clock=clock)

    async def on_call(call):
        pass

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, timing=TimingConfig(Timers(t1=0.05, t4=0.2))), on_call, registrar=registrar)
    await ep.start()
    phone = await Phone().open()
    yield ep, phone, registrar, seen, clock
    phone.transport.close()
    await ep.stop()


async def test_register_is_challenged_then_accepted_with_the_right_password(registrar_rig):
    ep, phone, registrar, seen, clock = registrar_rig
    first = await phone.register(ep, "alice")
    assert first.status == 401 and first.to.tag
    challenge = parse_digest(first.headers.get("WWW-Authenticate"))
    assert challenge["realm"] == "ivr.test" and challenge["qop"] == "auth" and challenge["nonce"]
    assert not seen
    auth = digest_authorization(first, "REGISTER", f"sip:127.0.0.1:{ep.port}", "alice", "wonderland")
    ok = await phone.register(ep, "alice", auth=auth)
    assert ok.status == 200
    assert ok.headers.get("Contact") == f"<sip:alice@127.0.0.1:{phone.port}>;expires=120"
    assert [(r.user, r.contact, r.expires) for r in seen] == [("alice", f"sip:alice@127.0.0.1:{phone.port}", 120)]
    assert seen[0].source == ("127.0.0.1", phone.port) and seen[0].transport == "UDP"
    assert registrar.live("alice") == {f"sip:alice@127.0.0.1:{phone.port}": 120}


async def test_wrong_password_is_forbidden_and_nothing_is_bound(registrar_rig):
    ep, phone, registrar, seen, _ = registrar_rig
    resp = await phone.login(ep, "alice", "not-the-password")
    assert resp.status == 403
    assert not seen and registrar.live("alice") == {}


async def test_unknown_user_is_answered_as_a_known_one(registrar_rig):
    """No enumeration: a made-up name is challenged like a real one, and any answer gets the same 403."""
    ep, phone, _, seen, _ = registrar_rig
    for user in ("mallory", "alice"):
        first = await phone.register(ep, user)
        assert first.status == 401 and len(first.headers.get_all("WWW-Authenticate")) == 2
        auth = digest_authorization(first, "REGISTER", f"sip:127.0.0.1:{ep.port}", user, "guess")
        resp = await phone.register(ep, user, auth=auth)
        assert (resp.status, resp.reason) == (403, "Forbidden")
    assert not seen


async def test_credentials_of_one_agent_cannot_register_another(registrar_rig):
    ep, phone, _, seen, _ = registrar_rig
    first = await phone.register(ep, "alice")
    auth = digest_authorization(first, "REGISTER", f"sip:127.0.0.1:{ep.port}", "bob", "builder")
    assert (await phone.register(ep, "alice", auth=auth)).status == 403
    assert not seen


async def test_forged_or_stale_nonce_is_rechallenged(registrar_rig):
    ep, phone, _, seen, clock = registrar_rig
    first = await phone.register(ep, "bob")
    good = digest_authorization(first, "REGISTER", f"sip:127.0.0.1:{ep.port}", "bob", "builder")
    forged = (good[0], good[1].replace('nonce="', 'nonce="0'))
    assert (await phone.register(ep, "bob", auth=forged)).status == 401
    clock.t += 301  # past the nonce lifetime
    stale = await phone.register(ep, "bob", auth=good)
    assert stale.status == 401 and parse_digest(stale.headers.get("WWW-Authenticate"))["stale"] == "true"
    assert not seen


async def test_replayed_authorization_is_rechallenged(registrar_rig):
    ep, phone, _, seen, _ = registrar_rig
    first = await phone.register(ep, "alice")
    auth = digest_authorization(first, "REGISTER", f"sip:127.0.0.1:{ep.port}", "alice", "wonderland")
    assert (await phone.register(ep, "alice", auth=auth)).status == 200
    replay = await phone.register(ep, "alice", auth=auth)  # same nonce, same nc
    assert replay.status == 401 and len(seen) == 1
    bumped = (auth[0], auth[1].replace("nc=00000001", "nc=00000002"))  # a changed nc breaks the response hash
    assert (await phone.register(ep, "alice", auth=bumped)).status == 403


async def test_expiry_rules_are_honoured(registrar_rig):
    ep, phone, registrar, seen, clock = registrar_rig
    too_brief = await phone.login(ep, "bob", "builder", expires=10)
    assert too_brief.status == 423 and too_brief.headers.get("Min-Expires") == "60"
    huge = await phone.login(ep, "bob", "builder", expires=999999)
    assert huge.status == 200 and seen[-1].expires == 7200  # capped at max_expires
    contact = f"sip:bob@127.0.0.1:{phone.port}"
    # the per-contact expires parameter wins over the Expires header
    param = await phone.login(ep, "bob", "builder", contact=f"<{contact}>;expires=90", expires=3000)
    assert param.status == 200 and seen[-1].expires == 90
    clock.t += 89
    assert registrar.live("bob") == {contact: 1}
    clock.t += 2
    assert registrar.live("bob") == {}
    # re-register, then unregister with Expires: 0
    assert (await phone.login(ep, "bob", "builder", expires=600)).status == 200
    gone = await phone.login(ep, "bob", "builder", expires=0)
    assert gone.status == 200 and seen[-1].expires == 0 and registrar.live("bob") == {}
    # Contact: * with Expires: 0 removes every binding
    assert (await phone.login(ep, "bob", "builder", expires=600)).status == 200
    star = await phone.login(ep, "bob", "builder", contact="*", expires=0)
    assert star.status == 200 and seen[-1].contact == "*" and registrar.live("bob") == {}


async def test_application_may_shorten_or_refuse_a_binding():
    granted: list[int] = []

    def on_register(reg: Registration):
        if reg.user == "bob":
            raise ValueError("bob is suspended")
        granted.append(reg.expires)
        return 300

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda call: asyncio.sleep(0),
                     registrar=DigestRegistrar(PASSWORDS.get, on_register))
    await ep.start()
    phone = await Phone().open()
    try:
        ok = await phone.login(ep, "alice", "wonderland", expires=3600)
        assert ok.status == 200 and ok.headers.get("Contact").endswith(";expires=300")
        assert (await phone.login(ep, "bob", "builder")).status == 403
    finally:
        phone.transport.close()
        await ep.stop()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SIPP_REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="register with digest">
  <send retrans="500">
    <![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{user}@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:{user}@[local_ip]:[local_port]>
Expires: 300
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{user}@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:{user}@[local_ip]:[local_port]>
[authentication username={user} password={password}]
Expires: 300
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="{expect}"/>
</scenario>
"""


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed")
@pytest.mark.parametrize("password,expect", [("wonderland", 200), ("guess", 403)])
async def test_sipp_registers_with_digest(registrar_rig, tmp_path, password, expect):
    ep, _, registrar, seen, _ = registrar_rig
    port = _free_udp_port()
    scenario = tmp_path / "register.xml"
    scenario.write_text(SIPP_REGISTER.format(user="alice", password=password, expect=expect))
    cmd = ["sipp", f"127.0.0.1:{ep.port}", "-i", "127.0.0.1", "-p", str(port), "-sf", str(scenario), "-m", "1",
           "-timeout", "10s", "-timeout_error", "-nostdin", "-nd", "-trace_err"]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                cwd=str(tmp_path))
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    errors = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*errors.log"))
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:] + errors
    if expect == 200:
        assert [(r.user, r.contact, r.expires) for r in seen] == [("alice", f"sip:alice@127.0.0.1:{port}", 300)]
        assert registrar.live("alice") == {f"sip:alice@127.0.0.1:{port}": 300}
    else:
        assert not seen
