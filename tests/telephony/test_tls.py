"""SIP over TLS: a self-signed certificate made by openssl here; our own UA calls the endpoint on
its TLS port, the call carries audio both ways (SRTP, agreed over TLS) and ends with a BYE over TLS; a
client that does not trust the certificate gets no call."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess

import numpy as np
import pytest

from telephony import CallFailed, EndpointConfig, SipEndpoint, TlsConfig

from tests.support import tone, tone_seconds

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


async def record(call, into):
    while (f := await call.read_frame()) is not None:
        into.append(np.frombuffer(f, dtype=np.int16).copy())


async def test_a_call_over_tls_with_audio_both_ways_and_bye(cert):
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*cert)
    client_ctx = ssl.create_default_context(cafile=str(cert[0]))
    seen, heard_by_bot, heard_by_caller = [], [], []
    done = asyncio.Event()

    async def bot(call):
        seen.append(call)
        rec = asyncio.create_task(record(call, heard_by_bot))
        call.play(tone(600, 1.5).tobytes())
        await call.ended.wait()
        await rec
        done.set()

    server = SipEndpoint(EndpointConfig("127.0.0.1", 0, tls=TlsConfig(server=server_ctx)), bot)
    client = SipEndpoint(EndpointConfig("127.0.0.1", 0, tls=TlsConfig(client=client_ctx)), lambda c: asyncio.sleep(0))
    await server.start()
    await client.start()
    try:
        assert server.tls_port and server.tls_port != server.port
        call = await client.invite(f"sip:bot@127.0.0.1:{server.tls_port};transport=tls", ring_timeout=5)
        rec = asyncio.create_task(record(call, heard_by_caller))
        call.play(tone(900, 1.5).tobytes())
        await asyncio.sleep(2.0)
        await call.hangup()
        await asyncio.wait_for(done.wait(), 10)
        await asyncio.wait_for(rec, 5)
        [leg] = seen
        assert leg.headers["Via"].startswith("SIP/2.0/TLS ")
        assert ";transport=tls" in leg.headers["Contact"]
        assert leg.end_reason == "remote_bye"  # the BYE came over the TLS connection
        assert tone_seconds(np.concatenate(heard_by_bot), 900) >= 1.0
        assert tone_seconds(np.concatenate(heard_by_caller), 600) >= 1.0
    finally:
        await client.stop()
        await server.stop()


async def test_a_client_that_does_not_trust_the_certificate_gets_no_call(cert):
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(*cert)
    answered = []
    server = SipEndpoint(EndpointConfig("127.0.0.1", 0, tls=TlsConfig(server=server_ctx)),
                         lambda c: answered.append(c) or asyncio.sleep(0))
    client = SipEndpoint(EndpointConfig("127.0.0.1", 0, tls=TlsConfig(client=ssl.create_default_context())),
                         lambda c: asyncio.sleep(0))
    await server.start()
    await client.start()
    try:
        with pytest.raises(CallFailed) as err:
            await client.invite(f"sip:bot@127.0.0.1:{server.tls_port};transport=tls", ring_timeout=5)
        assert err.value.status == 503 and "TLS" in err.value.reason
        # Plain text at the TLS port is dropped without harm; the endpoint still answers UDP.
        r, w = await asyncio.open_connection("127.0.0.1", server.tls_port)
        w.write(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n\r\n")
        await w.drain()
        assert await asyncio.wait_for(r.read(), 5) == b""
        w.close()
        assert not answered
    finally:
        await client.stop()
        await server.stop()


def test_serve_settings_for_tls_are_checked(cert, tmp_path):
    from types import SimpleNamespace

    from ivr.settings import load_settings as resolve_settings

    ok = resolve_settings(SimpleNamespace(sip_tls="127.0.0.1:5061", tls_cert=str(cert[0]), tls_key=str(cert[1])))
    assert ok.sip_tls == "127.0.0.1:5061"
    with pytest.raises(ValueError, match="tls_cert and tls_key"):
        resolve_settings(SimpleNamespace(sip_tls="127.0.0.1:5061"))
    with pytest.raises(ValueError, match="no such file"):
        resolve_settings(SimpleNamespace(sip_tls="127.0.0.1:5061", tls_cert=str(tmp_path / "nope.pem"),
                                         tls_key=str(cert[1])))
