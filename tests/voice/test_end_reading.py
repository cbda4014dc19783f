"""Whisper's probability behind its full stop (voice.end_reading): the pure parts, and the real
model telling a finished request from the same words cut at a pause."""

from __future__ import annotations

import pytest

from voice.audio import read_wav, resample, telephone_band
from voice.end_reading import EndReading, split_mark


@pytest.mark.parametrize("text, body, mark", [
    ("I want to move.", "I want to move", "."),
    ("What time do you open?", "What time do you open", "?"),
    ("4 3 2 1", "4 3 2 1", "."),  # no mark: would a stop come?
    ("  Great!  ", "Great", "!"),
    ("", "", "."),
])
def test_split_mark(text, body, mark):
    assert split_mark(text) == (body, mark)


def test_finished_is_the_stop_and_nothing_after_it():
    assert EndReading(p_mark=0.9, p_end=0.5).p_finished == pytest.approx(0.45)


def phone(caller):
    return resample(telephone_band(read_wav(caller.path)), 8000, 16000)


@pytest.mark.e2e
def test_whisper_is_surer_of_a_finished_request_than_of_half_of_one(models, make_caller):
    whole = phone(make_caller([(0.3, "I want to move my delivery to Friday.")], tail=0.5))
    half = phone(make_caller([(0.3, "My order number is")], tail=0.5))
    w = models.end_reading(whole, "I want to move my delivery to Friday.")
    h = models.end_reading(half, "My order number is.")
    assert 0.0 <= h.p_finished < w.p_finished <= 1.0
    assert w.p_finished > 0.5 > h.p_finished
    assert models.end_reading(half, "") is None  # no words: nothing to judge


@pytest.mark.e2e
def test_a_finished_looking_transcript_carries_its_probability(models, make_caller):
    audio = phone(make_caller([(0.3, "I want to move my delivery to Friday.")], tail=0.5))
    t = models.transcribe_sync(audio)
    assert t.text.endswith(".") and t.stop_p is not None and 0.5 < t.stop_p <= 1.0
    unfinished = phone(make_caller([(0.3, "I ordered a lamp and")], tail=0.5))
    u = models.transcribe_sync(unfinished)
    assert u.stop_p is None or u.stop_p < t.stop_p  # read only behind a full stop
