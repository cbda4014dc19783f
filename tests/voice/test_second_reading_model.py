"""The second reading with the real models: a tune caller's line that tiny.en mishears and is
unsure of is read again by Whisper base, whose reading goes to the dialog (end of turn still
reads tiny's) and whose time counts in the turn's; a line tiny is sure of is read once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ivr.tools.caller_asr import line_audio
from ivr.tools.caller_audio import Renderer
from ivr.tools.caller_script import load_set
from voice.asr_prompts import prompt_for
from voice.models import ModelConfig, SpeechModels

BASE = Path(__file__).resolve().parents[2] / "var" / "models" / "whisper-base"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def both(models):
    assert (BASE / "model.bin").is_file(), f"Whisper base missing in {BASE}: make models"
    m = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, second_path=str(BASE)))
    m._whisper, m._voice = models.whisper, models.voice  # the same tiny.en and Piper
    return m, models


def _line(m, tmp_path, caller_id, key):
    spec = next(c for c in load_set().split("tune") if c.id == caller_id)
    return line_audio(Renderer(m, tmp_path), spec, key, spec.lines()[key], lambda: np.zeros(8000))


def test_an_unsure_misreading_is_read_again_and_base_kept(both, tmp_path):
    m, tiny = both
    audio = _line(m, tmp_path, "t-billing-twice", "no")  # espeak-ng en-gb-x-rp, white noise at 25 dB
    alone = tiny.transcribe_sync(audio, prompt=prompt_for(None))
    assert alone.text.lower().startswith("so")  # what tiny.en hears for "No, that's not right."
    t = m.transcribe_sync(audio, prompt=prompt_for(None))
    assert "base kept (logprob)" in t.window, t.window
    said = t.for_dialog.lower()  # what the dialog acts on
    assert said.startswith("no") and "not right" in said and t.kept_second == t.second == t.for_dialog
    assert t.text == alone.text  # what end of turn reads stays tiny's
    assert t.seconds > alone.seconds  # base's time is the turn's time


def test_a_sure_reading_is_read_once(both, tmp_path):
    m, _tiny = both
    audio = _line(m, tmp_path, "t-order-calm", "opening")  # Piper
    t = m.transcribe_sync(audio, prompt=prompt_for(None))
    assert "base" not in t.window and t.second is None and t.kept_second is None
    assert "status of my order" in t.for_dialog.lower() and t.for_dialog == t.text
