"""SRTP in the media path: libsrtp contexts with mirrored SDES keys, and two RTP sessions on real
loopback sockets that talk SRTP while junk, forged, replayed and plain-RTP datagrams are thrown at
one of them: each is dropped and counted, the latch does not move, the call's audio goes on; and
two of our endpoints over SIP/TLS agree SRTP by themselves, while over UDP they keep the keys out."""

from __future__ import annotations

import asyncio
import os
import socket

import numpy as np
import pytest

from telephony import EndpointConfig, MediaConfig, SipEndpoint
from telephony.media import RtpSession, bind_rtp_pair
from telephony.rtp import RtpPacket
from telephony.sdes import SrtpKeys, new_key
from telephony.sdp import MediaParams
from telephony.srtp import SrtpContext

from tests.support import tone, tone_seconds


def mirrored(suite: str = "AES_CM_128_HMAC_SHA1_80") -> tuple[SrtpKeys, SrtpKeys]:
    a, b = new_key(), new_key()
    return SrtpKeys(suite, a, b, 1), SrtpKeys(suite, b, a, 1)


@pytest.mark.parametrize("suite, tag_len", [("AES_CM_128_HMAC_SHA1_80", 10), ("AES_CM_128_HMAC_SHA1_32", 4)])
def test_context_round_trip_replay_forgery_and_junk(suite, tag_len):
    ka, kb = mirrored(suite)
    alice, bob = SrtpContext(ka), SrtpContext(kb)
    plain = RtpPacket(0, 1000, 160, 0x1234, bytes(range(160)), False).serialize()
    wire = alice.protect(plain)
    assert len(wire) == len(plain) + tag_len and wire[12:] != plain[12:] and wire[:12] == plain[:12]
    assert bob.unprotect(wire) == plain
    assert bob.unprotect(wire) is None and bob.counters.replayed == 1  # the same packet again
    later = alice.protect(RtpPacket(0, 1001, 320, 0x1234, bytes(160), False).serialize())
    forged = later[:20] + bytes([later[20] ^ 1]) + later[21:]
    assert bob.unprotect(forged) is None and bob.counters.rejected == 1  # one bit flipped: no auth
    assert bob.unprotect(b"\x80\x00") is None and bob.unprotect(os.urandom(200)) is None
    assert bob.unprotect(RtpPacket(0, 1005, 800, 0x1234, bytes(160), False).serialize()) is None  # plain RTP
    assert bob.counters.rejected == 4
    assert bob.unprotect(later) is not None  # the genuine one still passes after all that
    rtcp = bytes([0x80, 201, 0, 1]) + (0x1234).to_bytes(4, "big")
    assert bob.unprotect_rtcp(alice.protect_rtcp(rtcp)) == rtcp
    assert bob.unprotect_rtcp(rtcp) is None


def test_a_renegotiated_remote_key_restarts_only_that_direction():
    ka, kb = mirrored()
    alice, bob = SrtpContext(ka), SrtpContext(kb)
    first = alice.protect(RtpPacket(0, 1, 160, 7, bytes(160), False).serialize())
    new = new_key()
    alice.update(SrtpKeys(ka.suite, new, ka.remote_key, 1))  # alice re-keys her sending side
    bob.update(SrtpKeys(kb.suite, kb.local_key, new, 1))
    assert bob.unprotect(first) is None  # the old key no longer opens her packets
    assert bob.unprotect(alice.protect(RtpPacket(0, 2, 320, 7, bytes(160), False).serialize())) is not None
    assert alice.unprotect(bob.protect(RtpPacket(0, 9, 0, 8, bytes(160), False).serialize())) is not None


async def test_two_sessions_talk_srtp_and_shrug_off_junk_and_replays():
    ka, kb = mirrored()
    rtp_a, rtcp_a, port_a = await bind_rtp_pair("127.0.0.1", (44000, 44998))
    rtp_b, rtcp_b, port_b = await bind_rtp_pair("127.0.0.1", (45000, 45998))
    a, b = RtpSession(rtp_a, rtcp_a, port_a), RtpSession(rtp_b, rtcp_b, port_b)
    a.configure(MediaParams([("PCMU", 0)], 101, ("127.0.0.1", port_b), "sendrecv", srtp=ka))
    b.configure(MediaParams([("PCMU", 0)], 101, ("127.0.0.1", port_a), "sendrecv", srtp=kb))
    wire_in: list[bytes] = []
    b.on_wire = lambda way, d: wire_in.append(d) if way == "rx" else None
    a.play(tone(700, 1.5).tobytes())
    a.start()
    b.start()
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attacker.bind(("127.0.0.1", 0))
    heard = []
    try:
        for _ in range(25):  # half a second of genuine audio first
            heard.append(await b.frames.get())
        assert b.remote == ("127.0.0.1", port_a)
        replays = [d for d in wire_in[:10] if d[1] & 0x7F == 0]
        junk = [os.urandom(172), b"\x80", RtpPacket(0, 5, 5, 5, bytes(160), False).serialize()]
        for d in replays + junk:
            attacker.sendto(d, ("127.0.0.1", port_b))
        while len(heard) < 75:
            heard.append(await b.frames.get())
        c = b.srtp.counters
        assert c.replayed == len(replays) >= 5 and c.rejected == len(junk)
        assert b.remote == ("127.0.0.1", port_a)  # nothing dropped moved the symmetric-RTP latch
        assert tone_seconds(np.frombuffer(b"".join(heard), np.int16), 700) >= 1.0
        assert b.packets_received >= 40
    finally:
        attacker.close()
        await a.close()
        await b.close()


def _ctx(path: str):
    import ssl

    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(f"{path}/cert.pem", f"{path}/key.pem")
    return server, ssl.create_default_context(cafile=f"{path}/cert.pem")


async def test_our_endpoints_agree_srtp_over_tls_but_not_over_udp(tmp_path):
    import subprocess

    from telephony import CallFailed, TlsConfig

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    server_ctx, client_ctx = _ctx(str(tmp_path))
    answered = []

    async def bot(call):
        answered.append(call)
        await call.ended.wait()

    server = SipEndpoint(EndpointConfig("127.0.0.1", 0, tls=TlsConfig(server=server_ctx)), bot)
    client = SipEndpoint(EndpointConfig("127.0.0.1", 0, tls=TlsConfig(client=client_ctx)), lambda c: asyncio.sleep(0))
    await server.start()
    await client.start()
    try:
        over_tls = await client.invite(f"sip:bot@127.0.0.1:{server.tls_port};transport=tls", ring_timeout=5)
        assert over_tls.media.params.srtp is not None and answered[-1].media.params.srtp is not None
        assert over_tls.media.params.srtp.remote_key == answered[-1].media.params.srtp.local_key
        await over_tls.hangup()
        over_udp = await client.invite(f"sip:bot@127.0.0.1:{server.port}", ring_timeout=5)
        assert over_udp.media.params.srtp is None and answered[-1].media.params.srtp is None  # no keys in clear
        await over_udp.hangup()
        # SRTP required on our side: over UDP we do not even offer; over TLS it is kept.
        client.config = client.config.__class__(**{**client.config.__dict__, "media": MediaConfig(srtp="require")})
        with pytest.raises(CallFailed) as err:
            await client.invite(f"sip:bot@127.0.0.1:{server.port}", ring_timeout=5)
        assert err.value.status == 488
        # The server requiring SRTP refuses a plain offer with 488 (the client offers none: srtp off).
        server.config = server.config.__class__(**{**server.config.__dict__, "media": MediaConfig(srtp="require")})
        client.config = client.config.__class__(**{**client.config.__dict__, "media": MediaConfig(srtp="off")})
        with pytest.raises(CallFailed) as err:
            await client.invite(f"sip:bot@127.0.0.1:{server.tls_port};transport=tls", ring_timeout=5)
        assert err.value.status == 488
    finally:
        await client.stop()
        await server.stop()
