"""The endpoint's front: SIP over TCP on the UDP port (answered down the same connection, closed
when framing is lost), and what it is constructed from."""

import asyncio

import pytest

from telephony import EndpointConfig, SipEndpoint
from telephony.sip_message import parse_message

from tests.telephony.conftest import simple


async def test_options_over_tcp_answered_on_the_same_connection(rig):
    ep, _, _ = rig
    reader, writer = await asyncio.open_connection("127.0.0.1", ep.port)
    msg = simple("OPTIONS", "t1", "z9hG4bKt1", 1).format(port=1, ep=ep.port).replace("UDP", "TCP").replace("\n", "\r\n")
    writer.write(b"\r\n\r\n" + msg.encode() + b"\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    resp = parse_message(data)
    assert resp.status == 200 and "INVITE" in resp.headers.get("Allow")
    writer.write(b"INVITE sip:x SIP/2.0\r\nContent-Length: nope\r\n\r\n")  # framing lost → connection closed
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()


def test_the_endpoint_takes_a_config_not_keyword_settings():
    with pytest.raises(TypeError):  # the old signature: host, port, on_call, **settings
        SipEndpoint("127.0.0.1", 0, lambda call: asyncio.sleep(0))
    with pytest.raises(TypeError, match="EndpointConfig"):
        SipEndpoint("127.0.0.1", lambda call: asyncio.sleep(0))
    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda call: asyncio.sleep(0))
    assert ep.port == 0 and ep.contact() == "<sip:ivr@127.0.0.1:0>" and ep.stats()["legs"] == 0
