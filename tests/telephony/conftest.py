"""Shared fakes for the telephony tests: a scripted raw-UDP phone (`Peer`) with the requests it
sends, and the `rig` fixture (an endpoint with fast timers answering that phone on loopback).

The tests import the helpers from here (`from tests.telephony.conftest import Peer, ...`);
pytest finds the fixture itself.
"""

import asyncio
import time

import pytest

from telephony import Call, EndpointConfig, MediaConfig, SipEndpoint, TimingConfig, Timers
from telephony.sip_message import SipResponse, parse_message

FAST = Timers(t1=0.02, t2=0.08, t4=0.1, d=0.2)


class Peer(asyncio.DatagramProtocol):
    """A scripted phone: sends text SIP, collects what comes back."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        try:
            self.inbox.put_nowait(parse_message(data))
        except Exception:
            self.inbox.put_nowait(data)

    async def open(self):
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    def send(self, text: str, ep: SipEndpoint, body: bytes = b"") -> None:
        text = text.format(port=self.port, ep=ep.port).strip("\n").replace("\n", "\r\n")
        self.transport.sendto(text.encode() + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body,
                              ("127.0.0.1", ep.port))

    async def expect(self, pred=lambda m: True, timeout=2.0):
        end = time.monotonic() + timeout
        while True:
            msg = await asyncio.wait_for(self.inbox.get(), max(0.01, end - time.monotonic()))
            if pred(msg):
                return msg


def sdp(port: int, fmts="0 101", extra="") -> bytes:
    return (f"v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {fmts}\r\n"
            f"a=rtpmap:101 telephone-event/8000\r\n{extra}").encode()


def invite(cid: str, branch: str, cseq: int = 1, to_tag: str = "", rr: str = "") -> str:
    return (f"INVITE sip:bot@127.0.0.1:{{ep}} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{{port}};branch={branch};rport\n"
            f"From: <sip:caller@127.0.0.1>;tag=ft\nTo: <sip:bot@127.0.0.1>{';tag=' + to_tag if to_tag else ''}\n"
            f"Call-ID: {cid}\nCSeq: {cseq} INVITE\nContact: <sip:caller@127.0.0.1:{{port}}>\nMax-Forwards: 70\n"
            f"{rr}Content-Type: application/sdp")


def simple(method: str, cid: str, branch: str, cseq: int, to_tag: str = "", ctype: str = "") -> str:
    return (f"{method} sip:bot@127.0.0.1:{{ep}} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{{port}};branch={branch}\n"
            f"From: <sip:caller@127.0.0.1>;tag=ft\nTo: <sip:bot@127.0.0.1>{';tag=' + to_tag if to_tag else ''}\n"
            f"Call-ID: {cid}\nCSeq: {cseq} {method}\nMax-Forwards: 70" + (f"\nContent-Type: {ctype}" if ctype else ""))


def status(code):
    return lambda m: isinstance(m, SipResponse) and m.status == code


async def wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.02)
    return True


async def drained(ep, timeout=3.0):
    """Every transaction and leg of `ep` gone within `timeout` (nothing leaks)."""
    end = time.monotonic() + timeout
    while ep.server_tx or ep.client_tx or ep.legs:
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.fixture
async def rig():
    calls: list[Call] = []

    async def on_call(call: Call) -> None:
        calls.append(call)
        await call.ended.wait()

    config = EndpointConfig("127.0.0.1", 0, media=MediaConfig(rtp_ports=(50000, 52000), rtp_timeout=0.6),
                            timing=TimingConfig(FAST, answer_delay=0.3))
    ep = SipEndpoint(config, on_call)
    await ep.start()
    peer = await Peer().open()
    yield ep, peer, calls
    peer.transport.close()
    await ep.stop()


async def answered(ep, peer, cid, body=None, rr=""):
    peer.send(invite(cid, f"z9hG4bK{cid}", rr=rr), ep, body if body is not None else sdp(40000))
    ok = await peer.expect(status(200), 3)
    peer.send(simple("ACK", cid, f"z9hG4bK{cid}ack", 1, ok.to.tag).replace("CSeq: 1 ACK", "CSeq: 1 ACK"), ep)
    return ok
