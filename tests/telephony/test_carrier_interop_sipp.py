"""What carriers and PBXs send, played by the real peer sipp (scenarios in tests/telephony/sipp/):
UPDATE mid-call (RFC 3311), Require: 100rel with PRACK (RFC 3262), and session timers (RFC 4028)
refreshed by either side, or never (then the service hangs up).

Session-Expires is 2 s here (Min-SE lowered to 1 s in the endpoint's configuration; the RFC
floor is 90 s), so "outlives three refresh intervals" takes seven seconds, not ninety minutes.
"""

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from telephony import Call, EndpointConfig, MediaConfig, SipEndpoint, TimingConfig, Timers
from telephony.session_timer import SessionTimerConfig

from tests.telephony.test_endpoint_sipp import _request_scenario, run_sipp, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed")]

SCENARIOS = Path(__file__).parent / "sipp"


@pytest.fixture
async def endpoint():
    calls: list[Call] = []
    spans: dict[str, tuple[float, float]] = {}

    async def on_call(call: Call) -> None:
        calls.append(call)
        start = time.monotonic()
        await call.ended.wait()
        spans[call.call_id] = (start, time.monotonic())

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, media=MediaConfig(rtp_ports=(30000, 40000)),
                                    timing=TimingConfig(Timers(t1=0.1, t4=0.5), answer_delay=0.02,
                                                        session=SessionTimerConfig(session_expires=2, min_se=1))),
                     on_call)
    ep.test_calls, ep.test_spans = calls, spans
    await ep.start()
    yield ep
    await ep.stop()


async def play(ep, name: str, tmp_path, timeout=25):
    rc, out = await run_sipp(ep, ["-sf", str(SCENARIOS / name)], None, tmp_path, timeout=timeout)
    assert rc == 0, out
    assert await wait_for(lambda: ep.test_calls and ep.test_calls[-1].ended.is_set())
    return ep.test_calls[-1]


async def test_update_mid_call_changes_the_codec_and_a_bodiless_update_is_a_200(endpoint, tmp_path):
    call = await play(endpoint, "update.xml", tmp_path)
    assert call.codec == "PCMU"  # the UPDATE's offer took effect (the INVITE's was PCMA)
    assert call.end_reason == "remote_bye"
    assert await wait_for(lambda: not endpoint.legs)


async def test_require_100rel_gets_a_reliable_180_and_the_200_waits_for_prack(endpoint, tmp_path):
    call = await play(endpoint, "prack.xml", tmp_path)
    assert call.end_reason == "remote_bye"


async def test_a_reliable_180_never_pracked_ends_in_504_and_no_call(endpoint, tmp_path):
    rc, out = await run_sipp(endpoint, ["-sf", str(SCENARIOS / "prack_never.xml")], None, tmp_path)
    assert rc == 0, out
    assert not endpoint.test_calls
    assert await wait_for(lambda: not endpoint.legs)


async def test_a_call_refreshed_by_the_caller_outlives_three_session_intervals(endpoint, tmp_path):
    call = await play(endpoint, "timer_uac_refresh.xml", tmp_path)
    start, end = endpoint.test_spans[call.call_id]
    assert call.end_reason == "remote_bye"  # not "session_expired": every refresh restarted the timer
    assert end - start > 3 * 2.0


async def test_as_refresher_the_service_sends_update_and_the_call_outlives_three_intervals(endpoint, tmp_path):
    call = await play(endpoint, "timer_uas_refresh.xml", tmp_path)
    start, end = endpoint.test_spans[call.call_id]
    assert call.end_reason == "remote_bye"
    assert end - start > 3 * 2.0  # six UPDATEs at half the interval


async def test_a_session_never_refreshed_is_ended_with_bye(endpoint, tmp_path):
    call = await play(endpoint, "timer_expiry.xml", tmp_path)
    start, end = endpoint.test_spans[call.call_id]
    assert call.end_reason == "session_expired"
    assert 1.0 < end - start < 2.0  # interval - min(32, interval / 3) = 1.33 s


async def test_drain_refuses_new_invites_and_options_with_503_and_lets_the_call_finish(endpoint, tmp_path):
    for sub in "abc":
        (tmp_path / sub).mkdir()
    call_in_progress = asyncio.create_task(run_sipp(endpoint, ["-sf", str(SCENARIOS / "timer_uac_refresh.xml")],
                                                    None, tmp_path / "a"))  # a 7-second call
    assert await wait_for(lambda: endpoint.test_calls)
    drain = asyncio.create_task(endpoint.drain(15.0))
    await asyncio.sleep(0)  # let it start: from here new calls are refused
    assert endpoint.draining
    rc, out = await run_sipp(endpoint, [], _request_scenario("OPTIONS", "503"), tmp_path / "b")
    assert rc == 0, out  # Kamailio's dispatcher probe sees the worker down
    rc, out = await run_sipp(endpoint, ["-sf", str(SCENARIOS / "refused.xml")], None, tmp_path / "c")
    assert rc == 0, out
    assert not endpoint.test_calls[0].ended.is_set()  # refused while the first call was still up
    assert endpoint.calls_refused == 1
    assert await drain  # the call in progress ended within the deadline
    rc, out = await call_in_progress
    assert rc == 0, out  # the call in progress went on to its own BYE
    assert [c.end_reason for c in endpoint.test_calls] == ["remote_bye"]
