"""A worker draining behind Kamailio: its call in progress goes on (BYE through the balancer) and
new calls go to the other worker, from the 503 to INVITE (failure route) and to the dispatcher's
OPTIONS probe (marked inactive). Two bare SIP endpoints stand in for the workers (no models),
so it runs in seconds beside the full `cluster` tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from cluster.kamailio import Kamailio
from ivr.tools.harness import free_port
from telephony import Call, EndpointConfig, SipEndpoint

pytestmark = [pytest.mark.scaleout,
              pytest.mark.skipif(shutil.which("kamailio") is None and not Path("/usr/sbin/kamailio").exists(),
                                 reason="kamailio not installed (make deps)")]


async def worker() -> SipEndpoint:
    async def on_call(call: Call) -> None:
        await call.ended.wait()

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), on_call)
    await ep.start()
    return ep


async def test_a_draining_worker_keeps_its_call_and_kamailio_routes_new_calls_to_the_other():
    a, b = await worker(), await worker()
    phone = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
    await phone.start()
    root = Path(tempfile.mkdtemp(prefix="ivr-drain-"))
    os.chmod(root, 0o755)  # Kamailio runs as nobody under it
    port = free_port()
    front = Kamailio("127.0.0.1", port, root / "kamailio", [("127.0.0.1", a.port), ("127.0.0.1", b.port)])
    await asyncio.to_thread(front.start)
    try:
        first = await phone.invite(f"sip:support@127.0.0.1:{port}", ring_timeout=10)
        holder, other = (a, b) if a.calls_answered else (b, a)
        assert holder.calls_answered == 1 and other.calls_answered == 0
        drain = asyncio.create_task(holder.drain(10.0))
        await asyncio.sleep(0)  # let it start: from here new calls are refused
        assert holder.draining
        calls = [await phone.invite(f"sip:support@127.0.0.1:{port}", ring_timeout=10) for _ in range(3)]
        assert other.calls_answered == 3 and holder.calls_answered == 1  # none reached the draining one
        (held,) = holder.calls
        assert not first.ended.is_set() and not held.ended.is_set()  # its call in progress is still up
        await first.hangup()  # through Kamailio's Record-Route to the draining worker
        assert await asyncio.wait_for(drain, 5)  # drain returns True once its last call has ended
        await asyncio.wait_for(held.ended.wait(), 5)
        assert held.end_reason == "remote_bye"  # it ended normally, by the caller's BYE
        for call in calls:
            await call.hangup()
    finally:
        await asyncio.to_thread(front.stop)
        for ep in (phone, a, b):
            await ep.stop()
        shutil.rmtree(root, ignore_errors=True)
