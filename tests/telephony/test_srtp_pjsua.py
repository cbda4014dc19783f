"""SRTP with a real peer: pjsua2 (libsrtp inside, SDES keying) over SIP/TLS on loopback, both ways,
and against `ivr serve --sip-tls` itself.

* pjsua2 with SRTP mandatory calls our TLS listener (RTP/SAVP offer), sends SRTCP that authenticates,
  and hangs up with a BYE over TLS;
* we call pjsua2 over TLS with our best-effort offer (RTP/AVP with crypto lines), pjsua2 with SRTP
  optional answers with its own key, and we hang up.

Each asserts what crossed the wire: every RTP datagram either way is SRTP (the plaintext packet
plus a 10-byte tag, its payload not the G.711 we or they encoded), none failed to authenticate,
and each side heard the other's tone (pjsua2's WAV recording, our decoded frames).
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import ssl
import subprocess
import sys

import numpy as np
import pytest

from telephony import Call, EndpointConfig, MediaConfig, SipEndpoint, TimingConfig, TlsConfig

from tests.support import tone_seconds
from tests.telephony.test_real_peers_transfer import FAST, PEER_SCRIPT, drained, free_port, peers, read_wav, tone, write_wav

__all__ = ["peers"]  # the fixture, imported for use here

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(importlib.util.find_spec("pjsua2") is None, reason="pjsua2-python not installed (test-only peer)"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed"),
]

SUITE = "AES_CM_128_HMAC_SHA1_80"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return str(d / "cert.pem"), str(d / "key.pem")


class Wire:
    """Our RTP session's taps: the datagrams on the wire, and the plaintext packets they carried."""

    def __init__(self, media) -> None:
        self.datagrams = {"tx": [], "rx": [], "rtcp": []}
        self.plain = {"tx": {}, "rx": {}}
        self.srtcp = asyncio.Event()  # an SRTCP packet from the peer authenticated

        def tap(way: str, data: bytes) -> None:
            self.datagrams[way].append(bytes(data))
            if way == "rtcp":
                self.srtcp.set()

        media.on_wire = tap
        media.on_packet = lambda way, pkt, t: self.plain[way].__setitem__(pkt.sequence, pkt)

    def assert_all_srtp(self, tag_len: int = 10) -> None:
        for way in ("tx", "rx"):
            rtp = [d for d in self.datagrams[way] if not 200 <= d[1] <= 204]  # RTCP (mux) aside
            assert len(rtp) >= 50, f"{way}: only {len(rtp)} RTP datagrams"
            checked = 0
            for d in rtp:
                pkt = self.plain[way].get(int.from_bytes(d[2:4], "big"))
                if pkt is None:
                    continue
                checked += 1
                assert len(d) == 12 + len(pkt.payload) + tag_len, way  # header, ciphertext, auth tag
                assert d[12:12 + len(pkt.payload)] != pkt.payload, f"{way}: plaintext payload on the wire"
                assert pkt.payload not in d
            assert checked >= 50, f"{way}: {checked} datagrams matched to their plaintext"


async def record(call: Call, into: list) -> None:
    while (f := await call.read_frame()) is not None:
        into.append(np.frombuffer(f, dtype=np.int16).copy())


def endpoint(cert, on_call) -> SipEndpoint:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(*cert)
    client = ssl.create_default_context(cafile=cert[0])
    return SipEndpoint(EndpointConfig("127.0.0.1", 0, media=MediaConfig(rtp_ports=(37000, 37998)),
                                      timing=TimingConfig(FAST, answer_delay=0.0),
                                      tls=TlsConfig(server=server, client=client)), on_call)


async def start_pjsua(peers, tmp_path, cert, role: str, srtp: str, tls_port: int | None = None):
    port = free_port()
    wav = write_wav(tmp_path / f"{role}.wav", tone(900, 2.0))
    args = [sys.executable, PEER_SCRIPT, "--role", role, "--port", str(port), "--rtp-port", str(free_port() // 2 * 2),
            "--codecs", "PCMU", "--play", wav, "--record-prefix", str(tmp_path / f"{role}-heard-"),
            "--max-seconds", "30", "--srtp", srtp, "--tls-cert", cert[0], "--tls-key", cert[1]]
    if tls_port:
        args += ["--tls-port", str(tls_port)]
    p = await peers(role, *args)
    await p.wait_event("ready", timeout=10)
    return p


async def test_pjsua_with_srtp_mandatory_calls_us_over_tls(peers, tmp_path, cert):
    calls: asyncio.Queue[Call] = asyncio.Queue()
    heard, done = [], asyncio.Event()

    async def bot(call: Call) -> None:
        calls.put_nowait(call)
        rec = asyncio.create_task(record(call, heard))
        call.play(tone(600, 2.5))
        await call.ended.wait()
        await rec
        done.set()

    ep = endpoint(cert, bot)
    await ep.start()
    try:
        phone = await start_pjsua(peers, tmp_path, cert, "caller", "mandatory", tls_port=free_port())
        phone.send(f"call sip:bot@127.0.0.1:{ep.tls_port};transport=tls")
        call = await asyncio.wait_for(calls.get(), 10)
        wire = Wire(call.media)
        media = await phone.wait_event("media", timeout=5)
        assert media["srtp"] == SUITE and media["codec"] == "PCMU"
        assert call.media.params.proto == "RTP/SAVP" and call.media.params.srtp.suite == SUITE
        assert call.headers["Via"].startswith("SIP/2.0/TLS ")
        await asyncio.sleep(2.5)  # audio both ways
        await asyncio.wait_for(wire.srtcp.wait(), 10)  # pjsua's first SRTCP report (about 5 s in)
        phone.send("hangup")
        await asyncio.wait_for(done.wait(), 10)
        assert call.end_reason == "remote_bye"
        await phone.wait_event("state", timeout=5, state="DISCONNECTED")
        phone.send("quit")
        await phone.wait_event("bye", timeout=5)
        wire.assert_all_srtp()
        assert call.media.srtp.counters.rejected == 0 and call.media.srtp.counters.replayed == 0
        assert tone_seconds(np.concatenate(heard), 900) >= 1.0  # pjsua's tone, decrypted by us
        x, rate = read_wav(tmp_path / "caller-heard-1.wav")
        assert rate == 8000 and tone_seconds(x, 600) >= 1.0  # ours, decrypted by pjsua's libsrtp
        assert await drained(ep)
    finally:
        await ep.stop()


async def test_we_call_pjsua_over_tls_with_a_best_effort_offer(peers, tmp_path, cert):
    ep = endpoint(cert, lambda c: asyncio.sleep(0))
    await ep.start()
    try:
        tls_port = free_port()
        phone = await start_pjsua(peers, tmp_path, cert, "agent", "optional", tls_port=tls_port)
        call = await ep.invite(f"sip:agent@127.0.0.1:{tls_port};transport=tls", ring_timeout=5)
        wire = Wire(call.media)
        heard: list = []
        rec = asyncio.create_task(record(call, heard))
        call.play(tone(600, 2.5))
        media = await phone.wait_event("media", timeout=5)
        assert media["srtp"] == SUITE
        params = call.media.params
        assert params.proto == "RTP/AVP" and params.srtp.suite == SUITE and params.srtp.tag == 1
        await asyncio.sleep(2.5)
        await call.hangup()
        await phone.wait_event("state", timeout=5, state="DISCONNECTED")
        await asyncio.wait_for(rec, 5)
        phone.send("quit")
        await phone.wait_event("bye", timeout=5)
        wire.assert_all_srtp()
        assert call.media.srtp.counters.rejected == 0
        assert tone_seconds(np.concatenate(heard), 900) >= 1.0
        x, _ = read_wav(tmp_path / "agent-heard-1.wav")
        assert tone_seconds(x, 600) >= 1.0
        assert await drained(ep)
    finally:
        await ep.stop()


def loud_seconds(x: np.ndarray, rate: int = 8000) -> float:
    n = rate // 5
    return sum(np.sqrt(np.mean(x[i:i + n] ** 2)) > 300 for i in range(0, len(x) - n, n)) / 5


async def test_ivr_serve_over_tls_answers_pjsua_with_srtp_and_its_greeting_is_heard(peers, tmp_path, cert):
    """The service as deployed: `ivr serve --sip-tls`, pjsua2 with SRTP mandatory; the bot's greeting
    reaches the phone through SRTP, the call ends cleanly and the service still answers."""
    from tests.support import running_service

    tls_port = free_port()
    with running_service(tmp_path / "var", "--sip-tls", f"127.0.0.1:{tls_port}", "--tls-cert", cert[0],
                         "--tls-key", cert[1]) as svc:
        phone = await start_pjsua(peers, tmp_path, cert, "caller", "mandatory", tls_port=free_port())
        phone.send(f"call sip:support@127.0.0.1:{tls_port};transport=tls")
        await phone.wait_event("state", timeout=15, state="CONFIRMED")
        media = await phone.wait_event("media", timeout=5)
        assert media["srtp"] == SUITE
        await asyncio.sleep(6.0)  # the greeting
        phone.send("hangup")
        await phone.wait_event("state", timeout=10, state="DISCONNECTED")
        phone.send("quit")
        await phone.wait_event("bye", timeout=5)
        x, _ = read_wav(tmp_path / "caller-heard-1.wav")
        assert loud_seconds(x) >= 1.5  # speech, decrypted by pjsua's libsrtp
        health = svc.api("/healthz")
        assert health["calls_total"] >= 1
        log = "\n".join(svc.log)
        assert "SRTP AES_CM_128_HMAC_SHA1_80, 0 replayed and 0 unauthenticated" in log, log[-3000:]
