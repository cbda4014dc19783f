"""Turns of concurrent calls read together: the same text as one at a time, batches formed only
from turns that end within the bounded wait, at most `max_batch` each, and a failed batch fails
its turns without hanging them."""

from __future__ import annotations

import asyncio

import pytest

from voice.asr_batcher import AsrBatcher
from voice.audio import read_wav, resample, telephone_band

pytestmark = pytest.mark.e2e

LINES = ["I want to check my balance.", "Reset my password, please.", "Talk to a person.",
         "My card was stolen yesterday.", "Where is my parcel?"]


@pytest.fixture(scope="module")
def turns(make_caller):
    return [resample(telephone_band(read_wav(make_caller([(0.3, s)], tail=0.5).path)), 8000, 16000) for s in LINES]


def test_a_batch_reads_each_turn_as_it_would_be_read_alone(models, turns):
    alone = [models.transcribe_sync(t).text for t in turns]
    firsts = models.read_first_batch([(t, None) for t in turns])
    together = [models.transcribe_sync(t, first=f).text for t, f in zip(turns, firsts)]
    assert together == alone
    assert all(f is not None for f in firsts)


def test_concurrent_turns_share_batches_of_at_most_max_batch(models, turns):
    async def go():
        b = AsrBatcher(models, max_wait_s=0.03, max_batch=3)
        texts = await asyncio.gather(*(b.transcribe(t) for t in turns))
        return b, [r.text for r in texts]

    b, texts = asyncio.run(go())
    assert b.batches == [3, 2]  # five at once: one full batch sent at once, the rest at the wait
    assert texts == [models.transcribe_sync(t).text for t in turns]


def test_turns_further_apart_than_the_wait_are_read_apart(models, turns):
    async def go():
        b = AsrBatcher(models, max_wait_s=0.005, max_batch=8)
        first = await b.transcribe(turns[0])
        second = await b.transcribe(turns[1])
        return b, first, second

    b, first, second = asyncio.run(go())
    assert b.batches == [1, 1] and first.text and second.text


def test_a_failed_batch_fails_its_turns(models, turns, monkeypatch):
    def broken(_turns):
        raise RuntimeError("encoder failed")

    monkeypatch.setattr(models, "read_first_batch", broken)

    async def go():
        b = AsrBatcher(models, max_wait_s=0.01, max_batch=8)
        return await asyncio.gather(*(b.transcribe(t) for t in turns[:2]), return_exceptions=True)

    got = asyncio.run(asyncio.wait_for(go(), 30))
    assert all(isinstance(g, RuntimeError) for g in got)


def test_a_bad_configuration_is_refused(models):
    with pytest.raises(ValueError):
        AsrBatcher(models, max_wait_s=-1)
    with pytest.raises(ValueError):
        AsrBatcher(models, max_batch=0)


def test_the_service_path_batches_when_configured(models, turns, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(models, "config", replace(models.config, asr_batch_ms=20.0, asr_max_batch=8))
    monkeypatch.setattr(models, "_batchers", {})

    async def go():
        texts = await asyncio.gather(*(models.transcribe(t) for t in turns[:3]))
        return list(models._batchers.values())[0], texts

    b, texts = asyncio.run(go())
    assert b.batches == [3] and all(t.text for t in texts)
