"""REFER between the project's own user agents on loopback: blind and attended (Replaces)
transfers, a refused and a failed one that keep the call, and Replaces for an unknown dialog."""

import asyncio
from dataclasses import replace

import numpy as np
import pytest

from telephony import Bridge

from tests.support import loopback_boxes
from tests.telephony.conftest import wait_for


def tone(freq: float, seconds: float, amp: float = 6000) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (np.sin(2 * np.pi * freq * t) * amp).astype("<i2").tobytes()


def dominant_hz(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2").astype(float)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / 8000)[int(np.argmax(spec))])


def rms(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2").astype(float)
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


async def drained(*eps, timeout=4.0):
    return await wait_for(lambda: all(not (e.server_tx or e.client_tx or e.legs) for e in eps), timeout)


@pytest.fixture
async def boxes():
    async with loopback_boxes(54000) as make:
        yield make


async def test_blind_transfer_between_own_uas(boxes):
    """bot REFERs the caller to a third party: 202, NOTIFY 100 then 200, BYE, all transactions end."""
    bot, caller, target = await boxes("bot"), await boxes("caller"), await boxes("target")
    out = await caller.ep.invite(bot.uri)
    leg = await asyncio.wait_for(bot.new.get(), 2)
    result = await leg.refer(target.uri, timeout=5)
    assert result.response == 202 and result.ok and result.progress == [100, 200]
    assert leg.end_reason == "transferred"
    new_at_target = await asyncio.wait_for(target.new.get(), 2)
    assert new_at_target.headers.get("Referred-By", "").startswith("<sip:bot@")
    assert await wait_for(lambda: out.ended.is_set())
    assert out.end_reason == "transferred" and out.transferred_to is not None
    new = out.transferred_to
    new.play(tone(700, 1.0))
    heard = b"".join([await new_at_target.read_frame() for _ in range(40)])
    assert abs(dominant_hz(heard[-320 * 20:]) - 700) < 20
    await new.hangup()
    assert await drained(bot.ep, caller.ep, target.ep)


async def test_refused_and_failed_transfers_keep_the_call(boxes):
    bot, caller = await boxes("bot"), await boxes("caller", on_refer=lambda call, uri: "nobody" not in uri)
    out = await caller.ep.invite(bot.uri)
    leg = await asyncio.wait_for(bot.new.get(), 2)
    refused = await leg.refer("sip:nobody@127.0.0.1:9", timeout=3)
    assert refused.response == 603 and not refused.ok and not leg.ended.is_set()
    # accepted, but the target never answers: the NOTIFY carries the failure, the call stays
    caller.ep.config = replace(caller.ep.config, timing=replace(caller.ep.config.timing, refer_ring_timeout=0.3))
    failed = await leg.refer("sip:ghost@127.0.0.1:9", timeout=5)
    assert failed.response == 202 and failed.status == 408 and failed.progress == [100, 408]
    assert not leg.ended.is_set() and not out.ended.is_set()
    await out.hangup()
    assert await drained(bot.ep, caller.ep, timeout=6)


async def test_attended_transfer_with_replaces_between_own_uas(boxes):
    """caller→bot, bot→agent, bridge with whisper; then REFER the caller with Replaces of the agent leg."""
    bot, caller, agent = await boxes("bot"), await boxes("caller"), await boxes("agent")
    out = await caller.ep.invite(bot.uri, codecs=("PCMA",))
    caller_leg = await asyncio.wait_for(bot.new.get(), 2)
    agent_leg = await bot.ep.invite(agent.uri, codecs=("PCMU",), headers=[("X-Summary", "billing")])
    at_agent = await asyncio.wait_for(agent.new.get(), 2)
    assert caller_leg.codec == "PCMA" and agent_leg.codec == "PCMU"

    bridge = Bridge(caller_leg, agent_leg).start()
    bridge.hold(caller_leg, tone(300, 0.5))
    bridge.play(agent_leg, tone(1000, 0.6))  # the whisper: the agent only
    agent_heard = b"".join([await at_agent.read_frame() for _ in range(25)])
    caller_heard = b"".join([await out.read_frame() for _ in range(25)])
    assert abs(dominant_hz(agent_heard[-320 * 15:]) - 1000) < 20
    assert abs(dominant_hz(caller_heard[-320 * 15:]) - 300) < 20
    await bridge.played(agent_leg)
    bridge.join()
    for _ in range(5):
        await out.read_frame()
    caller_tap = bridge.tap(caller_leg)
    out.play(tone(440, 1.5))  # caller speaks PCMA; the agent hears it as PCMU
    heard = b"".join([await at_agent.read_frame() for _ in range(60)])
    assert abs(dominant_hz(heard[-320 * 30:]) - 440) < 20 and rms(heard[-320 * 30:]) > 2000
    tapped = b"".join([caller_tap.get_nowait() for _ in range(caller_tap.qsize())])
    assert abs(dominant_hz(tapped[-320 * 20:]) - 440) < 20  # the application still hears the caller
    out.send_dtmf("5")
    assert await wait_for(lambda: "5" in bridge.stats()["caller"]["digits"], 2)
    assert await asyncio.wait_for(at_agent.dtmf.get(), 2) == "5"  # relayed as RFC 4733 to the agent

    await bridge.stop()
    result = await caller_leg.refer(agent_leg, timeout=5)
    assert result.ok and result.progress[-1] == 200
    assert await wait_for(lambda: caller_leg.ended.is_set() and agent_leg.ended.is_set())
    assert caller_leg.end_reason == "transferred" and agent_leg.end_reason == "replaced"
    replacing = await asyncio.wait_for(agent.new.get(), 2)
    assert replacing.replaced is at_agent and at_agent.end_reason == "replaced"
    assert out.transferred_to is not None
    out.transferred_to.play(tone(600, 1.0))
    heard = b"".join([await replacing.read_frame() for _ in range(40)])
    assert abs(dominant_hz(heard[-320 * 20:]) - 600) < 20
    await replacing.hangup()
    assert await drained(bot.ep, caller.ep, agent.ep)


async def test_replaces_for_unknown_dialog_gets_481(boxes):
    bot, caller = await boxes("bot"), await boxes("caller")
    from telephony import CallFailed
    with pytest.raises(CallFailed) as err:
        await caller.ep.invite(bot.uri, headers=[("Replaces", "nope@x;to-tag=a;from-tag=b")])
    assert err.value.status == 481 and not bot.calls
    assert await drained(bot.ep, caller.ep)
