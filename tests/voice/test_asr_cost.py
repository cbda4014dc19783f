"""What a Whisper turn may cost: the token budget that stops a repetition loop, and when a
greedy reading is decoded again with the wide beam (pure rules, then the real model)."""

from __future__ import annotations

import numpy as np
import pytest

from voice.audio import read_wav, resample, telephone_band
from voice.models import ModelConfig, SpeechModels
from voice.whisper_window import MAX_TOKENS, Reading, token_budget, wider_beam


def reading(text: str, logprob: float = -0.1, nsp: float = 0.01, ratio: float = 1.2,
            tokens: int = 5, budget: int = 40) -> Reading:
    return Reading(text, nsp, logprob, tokens, budget, ratio)


def test_the_budget_grows_with_the_audio_and_is_capped():
    assert token_budget(1.0) == 28 and token_budget(5.0) == 76
    assert token_budget(30.0) == token_budget(600.0) == MAX_TOKENS  # one window, however long the audio
    assert token_budget(0.0) > 0


def test_a_sure_greedy_reading_is_kept():
    assert wider_beam(reading("I'd like to check my balance."), 2.0) is None


@pytest.mark.parametrize("r, why", [
    (reading("Balance.", logprob=-0.9), "logprob"),  # unsure by the calibrated gate
    (reading("seven of clubs seven of clubs seven of clubs"), "repeats"),
    (reading("hello there.", tokens=40, budget=40), "runaway"),
])
def test_an_unsure_or_degenerate_greedy_reading_gets_the_wide_beam(r, why):
    got = wider_beam(r, 2.0)
    assert got is not None and why in got


def phone(caller):
    return resample(telephone_band(read_wav(caller.path)), 8000, 16000)


@pytest.mark.e2e
def test_greedy_first_reads_clear_speech_as_beam_five_does(models, make_caller):
    audio = phone(make_caller([(0.3, "I would like to check the status of my order.")], tail=0.5))
    greedy_first = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, first_beam=1))
    greedy_first._whisper = models.whisper  # the same loaded model
    a, b = models.transcribe_sync(audio), greedy_first.transcribe_sync(audio)
    assert a.text == b.text and "order" in b.text.lower()
    greedy_first.asr_pool.shutdown()
    greedy_first.tts_pool.shutdown()


class CountingWhisper:
    """CTranslate2's Whisper, noting each `generate`'s length limit and the tokens it wrote
    (faster-whisper's temperature fallbacks included, which the kept text does not show)."""

    def __init__(self, real):
        self.real, self.limits, self.written = real, [], []

    def generate(self, *args, **kwargs):
        results = self.real.generate(*args, **kwargs)
        self.limits.append(kwargs.get("max_length", 448))
        self.written += [len(seq) for r in results for seq in r.sequences_ids]
        return results

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.mark.e2e
def test_the_standard_window_stops_a_loop_at_the_budget(models, monkeypatch):
    """A caller saying "yes" twelve times (12 s: past the fitted window): its repetition fails
    Whisper's compression test, so faster-whisper decodes it at every temperature, 5 samples
    each, and a sample that loops ran to 448 tokens. Bounded, every decode stops at the budget
    (sampling is random, so the limit is what is checked, and that the reading is kept)."""
    yes = models.synthesize_all("yes", 16000)
    turn = np.tile(np.concatenate([yes, np.zeros(4000, np.int16)]), 12)
    budget = token_budget(len(turn) / 16000)
    unbounded = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, budget_standard=False))
    unbounded._whisper = models.whisper
    counting = CountingWhisper(models.whisper.model)
    monkeypatch.setattr(models.whisper, "model", counting)
    before = unbounded._transcribe_standard(turn, 0.0, None)
    assert len(counting.limits) > 1 and min(counting.limits) == 448  # fallbacks, each up to 448 tokens
    counting.limits, counting.written = [], []
    after = models._transcribe_standard(turn, 0.0, None)
    assert 1 < len(counting.limits) <= len(models.config.standard_temperatures)  # the short ladder
    assert max(counting.limits) <= budget + 4  # + the start-of-transcript tokens
    assert max(counting.written) <= budget
    assert after.text.lower().count("yes") >= 6 and before.text.lower().count("yes") >= 6
    unbounded.asr_pool.shutdown()
    unbounded.tts_pool.shutdown()


async def test_a_transcription_dropped_while_queued_never_runs():
    """A speculative transcription the caller spoke over is cancelled; if no ASR worker has taken
    it yet it must not run at all (on 2 cores a reading is ~0.2 s of CPU), and it is counted."""
    import asyncio
    import threading

    m = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1))  # no model is loaded for this
    gate, started, ran = threading.Event(), threading.Event(), []

    def busy():
        started.set()
        gate.wait(10)
        return "busy"

    running = asyncio.ensure_future(m.on_asr_worker(busy))
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    queued = asyncio.ensure_future(m.on_asr_worker(ran.append, "stale"))
    await asyncio.sleep(0)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    running.cancel()  # this one a worker has: it runs to its end, its result unread
    with pytest.raises(asyncio.CancelledError):
        await running
    gate.set()
    assert await m.on_asr_worker(ran.append, "next") is None  # the worker is free again
    assert ran == ["next"]
    s = m.asr_stats.totals()
    assert (s["cancelled_queued"], s["dropped_running"], s["runs"]) == (1, 1, 2)
    assert s["queue_wait_s"] >= 0.0
    m.asr_pool.shutdown()


@pytest.mark.e2e
def test_the_end_reading_is_made_only_where_someone_reads_it(models, make_caller):
    """`end`: asked with the words once they are read; where it says no, no decoder pass and no
    `stop_p`; where it says yes, the same P(stop) as with no `end` (what `ivr eval` reads)."""
    from voice.models import no_end

    audio = phone(make_caller([(0.3, "I want to move my delivery to Friday.")], tail=0.5))
    before = models.asr_stats.totals()
    asked = []
    skipped = models.transcribe_sync(audio, end=no_end)
    wanted = models.transcribe_sync(audio, end=lambda text: asked.append(text) or True)
    default = models.transcribe_sync(audio)
    after = models.asr_stats.totals()
    assert skipped.text == wanted.text == default.text and asked == [default.text]
    assert skipped.stop_p is None and wanted.stop_p is not None and wanted.stop_p == default.stop_p
    assert after["end_skipped"] - before["end_skipped"] == 1 and after["end_read"] - before["end_read"] == 2


async def test_a_transcription_dropped_while_running_stops_at_its_next_model_pass(monkeypatch):
    """The caller spoke again while Whisper's encoder ran: the decode (and any longer window, the
    end reading) behind it is not worth making. The encoder is held here so the drop lands in it."""
    import asyncio
    import threading

    m = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1))
    inside, release, decoded = threading.Event(), threading.Event(), []

    def encode(audio, window_s, model=None):
        inside.set()
        release.wait(10)
        return object()

    monkeypatch.setattr(m, "_encode_fitted", encode)
    monkeypatch.setattr(m, "_decode", lambda *a, **k: decoded.append(a))
    task = asyncio.ensure_future(m.transcribe(np.zeros(16000, dtype=np.int16)))
    await asyncio.get_running_loop().run_in_executor(None, inside.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    await m.on_asr_worker(lambda: None)  # one worker: this runs once the dropped one has stopped
    s = m.asr_stats.totals()
    assert decoded == [] and (s["dropped_running"], s["abandoned"]) == (1, 1)
    m.asr_pool.shutdown()
