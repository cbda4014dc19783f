"""The pipecat services and processors, each tested alone with pipecat's run_test."""

import jiwer
import numpy as np
import pytest
from pipecat.frames.frames import InputAudioRawFrame, InterruptionFrame, TranscriptionFrame, TTSAudioRawFrame, TTSSpeakFrame, UserStartedSpeakingFrame
from pipecat.tests.utils import run_test

from voice.audio import Audio, frames, resample, telephone_band
from voice.frames import CallerSpeechStartedFrame, CallerTurnFrame
from voice.models import shared_models
from voice.playout import MediaClock
from voice.processors import Progress, TurnTakingProcessor
from voice.services import PromptCache, SharedPiperTTSService, SharedWhisperSTTService
from voice.turns import TurnConfig


def phone(models, text):
    x = models.synthesize_all(text, 16000)
    return resample(telephone_band(Audio(x, 16000)), 8000, 16000)


async def test_stt_transcribes_a_turn_and_fills_it_in(models):
    text = "I would like to reset my password please"
    turn = CallerTurnFrame(index=0, audio=phone(models, text))
    down, _ = await run_test(SharedWhisperSTTService(models), frames_to_send=[turn])
    transcripts = [f for f in down if isinstance(f, TranscriptionFrame)]
    turns = [f for f in down if isinstance(f, CallerTurnFrame)]
    assert len(transcripts) == 1 and len(turns) == 1
    assert turns[0].text == transcripts[0].text
    assert jiwer.wer(text, turns[0].text.lower().strip(".?!").replace(",", "")) < 0.2
    assert turns[0].asr_seconds and turns[0].asr_seconds > 0


async def test_stt_on_silence_gives_an_empty_turn_not_an_error(models):
    turn = CallerTurnFrame(index=0, audio=np.zeros(16000, dtype=np.int16))
    down, _ = await run_test(SharedWhisperSTTService(models), frames_to_send=[turn])
    turns = [f for f in down if isinstance(f, CallerTurnFrame)]
    assert turns and not turns[0].text


async def test_tts_speaks_at_the_telephone_rate(models):
    tts = SharedPiperTTSService(models, None, sample_rate=8000)
    down, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame("Your order has shipped. It will arrive on Tuesday.")])
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert audio and all(f.sample_rate == 8000 for f in audio)
    seconds = sum(len(f.audio) // 2 for f in audio) / 8000
    assert 2.0 < seconds < 6.0


async def test_prompt_cache_plays_from_memory(models, monkeypatch):
    cache = PromptCache(models, {"hold": "Please hold for a moment."}).build()
    expected = cache.get("Please hold for a moment.", 8000)

    def no_synthesis(text):
        raise AssertionError("a cached prompt must not be synthesized again")

    monkeypatch.setattr(models, "synthesize_sync", no_synthesis)
    tts = SharedPiperTTSService(models, cache, sample_rate=8000)
    down, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame("Please hold for a moment.")])
    got = np.concatenate([np.frombuffer(f.audio, dtype=np.int16) for f in down if isinstance(f, TTSAudioRawFrame)])
    assert np.array_equal(got, expected)


def test_one_model_per_process():
    a, b = shared_models(), shared_models()
    assert a is b and a.whisper is b.whisper and a.voice is b.voice
    s1, s2 = SharedWhisperSTTService(a), SharedWhisperSTTService(b)
    assert s1._models.whisper is s2._models.whisper


class FakePlayout:
    rate = 8000

    def __init__(self, until):
        self.until = until

    def playing_until(self):
        return self.until


@pytest.mark.parametrize("bot_talking", [True, False])
async def test_speech_while_the_bot_talks_is_a_barge_in(models, bot_talking):
    speech = phone(models, "wait, stop, that's not what I asked")
    fs = frames(np.concatenate([np.zeros(3200, dtype=np.int16), speech]), 16000)
    sent = []
    for i, f in enumerate(fs):
        fr = InputAudioRawFrame(audio=f.tobytes(), sample_rate=16000, num_channels=1)
        fr.metadata["t"] = i * 0.02
        sent.append(fr)
    proc = TurnTakingProcessor(TurnConfig(), MediaClock(), FakePlayout(100.0 if bot_talking else 0.0), Progress())
    down, _ = await run_test(proc, frames_to_send=sent)
    started = [f for f in down if isinstance(f, CallerSpeechStartedFrame)]
    assert len(started) == 1 and started[0].barge_in is bot_talking
    assert isinstance(started[0], UserStartedSpeakingFrame)  # what stock pipecat processors react to
    # Confirmed within 200 ms of the onset, so the bot stops in time.
    assert started[0].confirmed - started[0].onset <= 0.2
    assert any(isinstance(f, InterruptionFrame) for f in down) is bot_talking
    turns = [f for f in down if isinstance(f, CallerTurnFrame)]
    assert len(turns) == 1 and turns[0].barge_in is bot_talking


async def test_a_believed_digits_reading_is_what_the_dialog_gets(models):
    """The speculative transcript heard words; its digits-only reading was believed
    (voice.digit_reading): the turn's text is the digits, so the dialog acts on the number."""
    import asyncio

    from voice.models import Transcript

    done = asyncio.get_running_loop().create_future()
    done.set_result(Transcript("Big soul hammering, eight times.", 0.2, digits="6 0 7 8 9."))
    turn = CallerTurnFrame(index=0, audio=np.zeros(16000, dtype=np.int16), asr_task=done)
    down, _ = await run_test(SharedWhisperSTTService(models), frames_to_send=[turn])
    turns = [f for f in down if isinstance(f, CallerTurnFrame)]
    assert turns[0].text == "6 0 7 8 9."
