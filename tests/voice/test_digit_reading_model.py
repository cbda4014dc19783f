"""The digits-only reading with the real Whisper model: only digits come out, a number answer the
transcript missed is replaced by it, and words stay words."""

from __future__ import annotations

import re

import pytest

from calls.expectation import Expectation
from voice.audio import read_wav, resample, telephone_band
from voice.models import Transcript

ORDER = Expectation("order_number", digits=(5,), keypad=True)
pytestmark = pytest.mark.e2e


def phone(caller):
    return resample(telephone_band(read_wav(caller.path)), 8000, 16000)


def test_a_number_read_out_comes_back_as_digits_only(models, make_caller):
    audio = phone(make_caller([(0.3, "six oh seven eight nine.")], tail=0.5))
    free, digits = models.read_for_digits(audio)
    assert re.fullmatch(r"[\d\s.,-]+", digits.text), digits.text
    assert re.sub(r"\D", "", digits.text) == "60789"
    assert digits.avg_logprob > free.avg_logprob - 0.5  # forcing digits on digits costs little


def test_a_misheard_number_answer_is_replaced_by_its_digits(models, make_caller, monkeypatch):
    audio = phone(make_caller([(0.3, "six oh seven eight nine.")], tail=0.5))
    # What tiny.en wrote for these words in an espeak-ng voice: no digit in it.
    monkeypatch.setattr(models, "_transcribe_once", lambda pcm, prompt, t0, *_rest: Transcript("Big soul hammering, eight times.", 0.1))
    t = models.transcribe_sync(audio, expecting=ORDER)
    assert re.sub(r"\D", "", t.digits) == "60789" and t.window.endswith("read for digits")
    assert t.text == "Big soul hammering, eight times."  # what end of turn reads: as heard
    assert models.transcribe_sync(audio).text == "Big soul hammering, eight times."  # no number expected: as heard


def test_words_stay_words_when_a_number_was_asked_for(models, make_caller):
    audio = phone(make_caller([(0.3, "I don't have it with me.")], tail=0.5))
    t = models.transcribe_sync(audio, expecting=ORDER)
    assert "have it" in t.text.lower() and t.digits is None and "digits" not in t.window
