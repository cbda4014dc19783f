"""End-to-end against the real peer sipp on loopback (each test starts and kills its own sipp)."""

import asyncio
import math
import os
import shutil
import socket

import numpy as np
import pytest

from telephony import AdmissionConfig, Call, EndpointConfig, MediaConfig, SipEndpoint, TimingConfig, Timers

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed")]

PCAP_DIR = "/usr/share/sip-tester"
SIPP_TIMEOUT = 25


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_media_ports = iter(range(41000, 49000, 10))


async def run_sipp(ep: SipEndpoint, args: list[str], scenario: str | None = None, tmp_path=None, timeout=SIPP_TIMEOUT,
                   cwd: str | None = None) -> tuple[int, str]:
    """Run sipp against the endpoint; returns (exit code, output). Killed by PID on timeout."""
    cmd = ["sipp", f"127.0.0.1:{ep.port}", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_port()),
           "-mp", str(next(_media_ports)), "-m", "1", "-timeout", f"{timeout}s", "-timeout_error", "-nostdin",
           "-trace_err", "-nd"]
    if scenario is not None:
        path = tmp_path / "scenario.xml"
        path.write_text(scenario)
        cmd += ["-sf", str(path)]
    cmd += args
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                cwd=cwd or (str(tmp_path) if tmp_path else None))
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout + 5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    if tmp_path is not None:
        for f in tmp_path.glob("*errors.log"):
            text += f.read_text(errors="replace")
    return proc.returncode, text


@pytest.fixture
async def endpoint():
    calls: list[Call] = []
    frames: dict[str, list[bytes]] = {}
    digits: dict[str, list[str]] = {}

    async def on_call(call: Call) -> None:
        calls.append(call)
        frames[call.call_id] = []
        digits[call.call_id] = []

        async def pump_dtmf():
            while True:
                digits[call.call_id].append(await call.dtmf.get())

        t = asyncio.create_task(pump_dtmf())
        while (f := await call.read_frame()) is not None:
            frames[call.call_id].append(f)
        t.cancel()

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, media=MediaConfig(rtp_ports=(30000, 40000)),
                                    timing=TimingConfig(Timers(t1=0.1, t4=0.5), answer_delay=0.02)), on_call)
    ep.test_calls, ep.test_frames, ep.test_digits = calls, frames, digits
    await ep.start()
    yield ep
    await ep.stop()


def rms(frames: list[bytes]) -> float:
    if not frames:
        return 0.0
    pcm = np.frombuffer(b"".join(frames), dtype="<i2").astype(float)
    return math.sqrt(float(np.mean(pcm**2)))


async def wait_for(cond, timeout=5.0):
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > end:
            return False
        await asyncio.sleep(0.02)
    return True


PCAP_UAC = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="pcap call">
  <send retrans="500"><![CDATA[
INVITE sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[local_ip_type] [local_ip]
t=0 0
m=audio [auto_media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-11,16
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
ACK sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0
  ]]></send>
  <nop><action><exec play_pcap_audio="{PCAP_DIR}/g711a.pcap"/></action></nop>
  <pause milliseconds="2500"/>
  <nop><action><exec play_pcap_audio="{PCAP_DIR}/dtmf_2833_1.pcap"/></action></nop>
  <pause milliseconds="600"/>
  <send retrans="500"><![CDATA[
BYE sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0
  ]]></send>
  <recv response="200"/>
</scenario>
"""


async def test_sipp_pcap_call_delivers_audio_dtmf_and_bye(endpoint, tmp_path):
    rc, out = await run_sipp(endpoint, [], PCAP_UAC, tmp_path)
    assert rc == 0, out
    assert await wait_for(lambda: endpoint.test_calls and endpoint.test_calls[0].ended.is_set())
    call = endpoint.test_calls[0]
    assert call.codec == "PCMA" and call.end_reason == "remote_bye"
    assert call.remote_uri.startswith("sip:sipp@127.0.0.1")
    frames = endpoint.test_frames[call.call_id]
    assert all(len(f) == 320 for f in frames)
    assert len(frames) > 100  # ~3 s at 50 frames/s
    assert rms(frames) > 300  # real speech came through the jitter buffer, not silence
    assert endpoint.test_digits[call.call_id] == ["1"]
    assert await wait_for(lambda: not endpoint.legs)


def _request_scenario(method: str, expect: str, extra: str = "") -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="{method}">
  <send retrans="500"><![CDATA[
{method} sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 {method}
Max-Forwards: 70
{extra}Content-Length: 0
  ]]></send>
  <recv response="{expect}"/>
</scenario>
"""


async def test_sipp_options_ping_and_unknown_method(endpoint, tmp_path):
    rc, out = await run_sipp(endpoint, [], _request_scenario("OPTIONS", "200"), tmp_path)
    assert rc == 0, out
    rc, out = await run_sipp(endpoint, [], _request_scenario("FROBNICATE", "501"), tmp_path)
    assert rc == 0, out
    assert not endpoint.test_calls


INVITE_403 = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="forbidden">
  <send retrans="500"><![CDATA[
INVITE sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-fb-[call_number]-[pid]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="403"/>
  <send><![CDATA[
ACK sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-fb-[call_number]-[pid]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
  ]]></send>
</scenario>
"""


async def test_sipp_invite_from_disallowed_source_gets_403(tmp_path):
    async def on_call(call):
        raise AssertionError("must not be called")

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, admission=AdmissionConfig(allow=["10.0.0.0/8"]),
                                    timing=TimingConfig(Timers(t1=0.05, t4=0.2))), on_call)
    await ep.start()
    try:
        rc, out = await run_sipp(ep, [], INVITE_403, tmp_path)
        assert rc == 0, out
        assert await wait_for(lambda: not ep.server_tx, 3.0)  # the ACK completed the transaction
    finally:
        await ep.stop()


async def test_sipp_junk_datagrams_do_not_break_the_next_calls(endpoint, tmp_path):
    junk = [b"", b"\r\n\r\n", b"\x00" * 50, os.urandom(300), b"INVITE sip:x SIP/2.0\r\n\r\n",
            b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKj\r\nFrom: <sip:a@b>;tag=1\r\n"
            b"To: <sip:c@d>\r\nCall-ID: j1\r\nCSeq: 1 INVITE\r\nContent-Length: 500\r\n\r\nv=0",
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKnone\r\nCSeq: 1 BYE\r\nCall-ID: x\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\r\n"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for data in junk * 3:
            s.sendto(data, ("127.0.0.1", endpoint.port))
    await asyncio.sleep(0.1)
    # three concurrent calls, each its own dialog and RTP session; sipp's built-in UAC scenario
    rc, out = await run_sipp(endpoint, ["-sn", "uac", "-m", "3", "-l", "3", "-r", "10", "-d", "1500"], tmp_path=tmp_path)
    assert rc == 0, out
    assert await wait_for(lambda: len(endpoint.test_calls) == 3 and all(c.ended.is_set() for c in endpoint.test_calls))
    assert len({c.call_id for c in endpoint.test_calls}) == 3
    assert {c.end_reason for c in endpoint.test_calls} == {"remote_bye"}
    assert {c.codec for c in endpoint.test_calls} == {"PCMU"}
    assert {c.media.local_port for c in endpoint.test_calls}.__len__() == 3
    assert await wait_for(lambda: not endpoint.legs and not endpoint.server_tx and not endpoint.client_tx, 8.0)


UAC_WAIT_BYE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callee hangs up">
  <send retrans="500"><![CDATA[
INVITE sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
ACK sip:bot@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:bot@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
  ]]></send>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
  ]]></send>
</scenario>
"""


async def test_sipp_echo_hears_our_playback_then_we_hang_up(tmp_path):
    """sipp echoes our RTP: what we play() comes back through read_frame(); then hangup() → BYE."""
    result = {}

    async def on_call(call: Call) -> None:
        t = np.arange(8000) / 8000
        call.play((np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes())
        assert 900 < call.playback_queued_ms() <= 1000
        heard = []
        for _ in range(60):
            heard.append(await call.read_frame())
        result["rms"] = rms(heard[-25:])
        call.clear_playback()
        assert call.playback_queued_ms() == 0
        await call.hangup()
        result["reason"] = call.end_reason
        result["read_after_end"] = await call.read_frame()

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, timing=TimingConfig(Timers(t1=0.1, t4=0.5), answer_delay=0.0)), on_call)
    await ep.start()
    try:
        rc, out = await run_sipp(ep, ["-rtp_echo"], UAC_WAIT_BYE, tmp_path)
        assert rc == 0, out
        assert await wait_for(lambda: "read_after_end" in result)
        assert result["rms"] > 2000 and result["reason"] == "local_bye" and result["read_after_end"] is None
    finally:
        await ep.stop()
