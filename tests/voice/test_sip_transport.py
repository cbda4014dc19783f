"""SIPTransport between the project's own user agents on loopback, driven by pipecat's `run_test`.

A real SipEndpoint answers (the bot's side, the transport over its Call); another places the call
(the caller's side, real RTP both ways). pipecat's own processors run through the transport.
"""

import asyncio
import subprocess
import sys

import numpy as np
import pytest
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    EndTaskFrame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    TTSAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.tests.utils import SleepFrame, run_test

from telephony import Call
from voice.sip_server import parse_hostport, worker_for
from voice.sip_transport import SIPParams, SIPTransport, keypad_entry

from tests.support import loopback_boxes


@pytest.fixture
async def boxes():
    async with loopback_boxes(46000) as make:
        yield make


async def connected(boxes):
    """(the bot's Call, the caller's Call, the bot's Box) for one call from caller to bot."""
    bot, caller = await boxes("bot"), await boxes("caller")
    far = await caller.ep.invite(bot.uri)
    near = await asyncio.wait_for(bot.new.get(), 5)
    return near, far, bot


async def record(call: Call) -> bytes:
    """Everything the far end hears until the call ends."""
    out = bytearray()
    while (frame := await call.read_frame()) is not None:
        out += frame
    return bytes(out)


def tone(hz: float, seconds: float, rate: int = 8000, amp: float = 8000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * hz * t) * amp).astype("<i2").tobytes()


def loud_seconds(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2").astype(float)
    n = len(x) // 160
    return float(np.sum(np.sqrt(np.mean(x[: n * 160].reshape(n, 160) ** 2, axis=1)) > 1000)) * 0.02


async def test_output_plays_tts_audio_into_rtp_and_hangs_up_on_end_frame(boxes):
    near, far, _ = await connected(boxes)
    transport = SIPTransport(near, SIPParams())
    ended = []

    @transport.event_handler("on_call_ended")
    async def _ended(t, call, reason):
        ended.append(reason)

    heard = asyncio.create_task(record(far))
    await run_test(transport.output(), frames_to_send=[TTSAudioRawFrame(tone(440, 1.0), 8000, 1)])
    pcm = await asyncio.wait_for(heard, 10)
    assert 0.9 <= loud_seconds(pcm) <= 1.1  # the whole second of audio, once, before the BYE
    assert far.end_reason == "remote_bye" and near.ended.is_set()
    assert ended == ["local_bye"]


async def test_interruption_drops_the_audio_not_yet_played(boxes):
    near, far, _ = await connected(boxes)
    transport = SIPTransport(near, SIPParams())
    heard = asyncio.create_task(record(far))
    await run_test(transport.output(), frames_to_send=[TTSAudioRawFrame(tone(440, 4.0), 8000, 1), SleepFrame(0.6),
                                                       InterruptionFrame()])
    pcm = await asyncio.wait_for(heard, 10)
    assert 0.3 < loud_seconds(pcm) < 1.5, loud_seconds(pcm)  # cut near 0.6 s, not the 4 s queued


async def test_input_resamples_to_16k_passes_keys_and_ends_the_pipeline_with_the_call(boxes):
    near, far, _ = await connected(boxes)
    transport = SIPTransport(near, SIPParams())
    keys, ended = [], []

    @transport.event_handler("on_dtmf")
    async def _dtmf(t, digit):
        keys.append(digit)

    @transport.event_handler("on_call_ended")
    async def _ended(t, call, reason):
        ended.append(reason)

    @transport.event_handler("on_call_started")
    async def _started(t, call):
        async def talk():
            far.play(tone(300, 1.0))
            await asyncio.sleep(1.2)  # the caller's own timing: a key after a second of audio
            far.send_dtmf("5")
            await asyncio.sleep(0.5)
            await far.hangup()
        asyncio.get_running_loop().create_task(talk())

    down, up = await run_test(transport.input(), frames_to_send=[], send_end_frame=False, start_timeout=5)
    audio = [f for f in down if isinstance(f, InputAudioRawFrame)]
    assert audio and {f.sample_rate for f in audio} == {16000}
    assert {len(f.audio) for f in audio} == {640}  # 20 ms at 16 kHz
    assert [f.button for f in down if isinstance(f, InputDTMFFrame)] == [KeypadEntry.FIVE]
    assert keys == ["5"] and ended == ["remote_bye"]
    assert any(isinstance(f, EndTaskFrame) for f in up)  # the call's end ended the pipeline


async def test_pipecats_silero_vad_hears_the_caller_through_the_transport(boxes, models):
    near, far, _ = await connected(boxes)
    transport = SIPTransport(near, SIPParams())
    speech = models.synthesize_all("Hello, I would like some help with my account please.", 8000)

    @transport.event_handler("on_call_started")
    async def _started(t, call):
        async def talk():
            far.play(speech.astype("<i2").tobytes())
            await asyncio.sleep(len(speech) / 8000 + 1.0)
            await far.hangup()
        asyncio.get_running_loop().create_task(talk())

    vad = VADProcessor(vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=0.4)))
    down, _ = await run_test(Pipeline([transport.input(), vad]), frames_to_send=[], send_end_frame=False,
                             start_timeout=10)
    kinds = [type(f) for f in down if isinstance(f, (VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame))]
    assert kinds[:2] == [VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame], kinds


async def test_blind_transfer_refers_the_caller_to_the_agent(boxes):
    near, far, bot = await connected(boxes)
    agent = await boxes("agent")
    transport = SIPTransport(near, SIPParams(), endpoint=bot.ep)
    result = await transport.transfer_blind(agent.uri, timeout=10)
    assert result.ok, result
    agents_call = await asyncio.wait_for(agent.new.get(), 5)
    assert near.ended.is_set() and not agents_call.ended.is_set()
    await agents_call.hangup()


async def test_attended_transfer_calls_the_agent_then_replaces_our_legs(boxes):
    near, far, bot = await connected(boxes)
    agent = await boxes("agent")
    transport = SIPTransport(near, SIPParams(), endpoint=bot.ep)
    result = await transport.transfer_attended(agent.uri, timeout=10)
    assert result.ok and result.progress[-1] == 200, result
    consulted = await asyncio.wait_for(agent.new.get(), 5)  # our call to the agent
    replacing = await asyncio.wait_for(agent.new.get(), 5)  # the caller's phone, with Replaces
    assert replacing.replaced is consulted and near.end_reason == "transferred"
    far.transferred_to.play(tone(600, 1.0))  # the caller now talks to the agent directly
    heard = b"".join([await replacing.read_frame() for _ in range(40)])
    assert loud_seconds(heard) > 0.3
    await replacing.hangup()


async def test_a_call_whose_audio_cannot_be_read_ends_the_pipeline(boxes):
    near, _far, _ = await connected(boxes)

    async def broken():
        raise RuntimeError("the line's audio broke")

    near.read_frame = broken
    transport = SIPTransport(near, SIPParams())
    ended = []

    @transport.event_handler("on_call_ended")
    async def _ended(t, call, reason):
        ended.append(reason)

    _down, up = await run_test(transport.input(), frames_to_send=[], send_end_frame=False, start_timeout=5)
    assert ended == ["error"] and any(isinstance(f, EndTaskFrame) for f in up)


def test_params_refuse_what_the_call_cannot_carry():
    with pytest.raises(ValueError, match="8000"):
        SIPParams(audio_out_sample_rate=16000)
    with pytest.raises(ValueError, match="multiple"):
        SIPParams(audio_in_sample_rate=11025)
    with pytest.raises(ValueError):
        SIPParams(port=70000).endpoint_config()
    assert SIPParams(allow=("10.0.0.0/8",)).endpoint_config().admission.allow == ("10.0.0.0/8",)


def test_parsing_pure_helpers():
    assert parse_hostport("127.0.0.1:5070") == ("127.0.0.1", 5070)
    assert parse_hostport("[::1]:5060") == ("::1", 5060)
    for bad in ("localhost", ":5060", "host:port", "h:99999"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_hostport(bad)
    assert keypad_entry("#") == KeypadEntry.POUND and keypad_entry("A") is None
    with pytest.raises(TypeError, match="Pipeline or PipelineWorker"):
        worker_for([], SIPParams())  # a make_pipeline that returned a list of processors
    worker = worker_for(Pipeline([]), SIPParams())
    assert worker.params.audio_in_sample_rate == 16000 and worker.params.audio_out_sample_rate == 8000


def test_the_transport_imports_without_the_rest_of_the_service():
    code = ("import sys; from voice.sip_transport import SIPTransport, SIPParams, run_sip_server; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'nlu', 'routing', 'store', 'web', 'ivr'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


async def test_release_hands_the_call_over_with_everything_queued_still_playing(boxes):
    """With lookahead_ms=None all the audio goes to RTP at once; after release() the pipeline's
    end neither writes nor hangs up, and the caller hears the whole line (how a transfer takes it)."""
    near, far, _ = await connected(boxes)
    transport = SIPTransport(near, SIPParams(lookahead_ms=None))
    ended = []

    @transport.event_handler("on_call_ended")
    async def _ended(t, call, reason):
        ended.append(reason)

    heard = asyncio.create_task(record(far))

    async def hand_over():
        await asyncio.sleep(0.3)  # the line is queued (it would be 60 ms of it with back-pressure)
        assert await transport.release() is near

    releasing = asyncio.create_task(hand_over())
    await run_test(transport.output(), frames_to_send=[TTSAudioRawFrame(tone(440, 1.0), 8000, 1), SleepFrame(0.5)])
    await releasing
    assert not near.ended.is_set() and ended == []  # the EndFrame did not hang up: the call is the new owner's
    await asyncio.sleep(1.0)
    await near.hangup()
    pcm = await asyncio.wait_for(heard, 10)
    assert 0.9 <= loud_seconds(pcm) <= 1.1, loud_seconds(pcm)
