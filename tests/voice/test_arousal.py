"""The voice model: level-free features, first turn without a baseline, then against the caller's own."""

import json

import numpy as np
import pytest

from voice import arousal, prosody
from voice.audio import Audio, resample, telephone_band


def harmonic(f0=120.0, seconds=1.5, tilt=1.0, amp=0.3, rate=16000):
    """Harmonics falling off as 1/k**tilt: a smaller tilt is a brighter, more effortful voice."""
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k**tilt for k in range(1, 25))
    return (np.clip(amp * x / np.max(np.abs(x)), -1, 1) * 32767).astype(np.int16)


def phone(x):
    return resample(telephone_band(Audio(x, 16000)), 8000, 16000)


def test_vocal_effort_shows_in_the_spectrum_whatever_the_gain():
    soft = prosody.extract(phone(harmonic(tilt=1.6)), 16000)
    bright = prosody.extract(phone(harmonic(tilt=0.6)), 16000)
    bright_quiet = prosody.extract(phone(harmonic(tilt=0.6, amp=0.05)), 16000)
    assert bright.alpha_ratio_db > soft.alpha_ratio_db + 6
    assert bright.hammarberg_db < soft.hammarberg_db
    assert abs(bright_quiet.alpha_ratio_db - bright.alpha_ratio_db) < 1.0  # a ratio: the level cancels
    assert bright_quiet.energy_db < bright.energy_db - 10


def test_population_features_need_no_history():
    p = prosody.Prosody(pitch_median_hz=200.0, pitch_range_st=6.0, energy_db=-18.2, speaking_rate_sps=6.0,
                        pause_ratio=0.1, voiced_seconds=1.0, speech_seconds=0.5, pitch_floor_hz=100.0, pitch_top_hz=400.0)
    d = arousal.population_features(p)
    assert d["pitch_st"] == pytest.approx(12.0) and d["pitch_over_floor_st"] == pytest.approx(12.0)
    assert d["energy_ref_db"] == pytest.approx(-18.2 - arousal.BOT_LEVEL_DB)
    assert d["rate_sps"] == arousal.NORM_RATE_SPS  # 3 syllables: too few for a rate
    assert set(d) == set(arousal.FIRST_TURN_FEATURES)


def test_first_turn_model_then_with_baseline_model():
    model = arousal.load()
    voice = arousal.CallerVoice(model=model)
    turn = lambda hz, db: prosody.Prosody(pitch_median_hz=hz, pitch_range_st=6.0, energy_db=db, speaking_rate_sps=5.0,  # noqa: E731
                                          pause_ratio=0.1, voiced_seconds=1.5, speech_seconds=2.0,
                                          pitch_floor_hz=hz * 0.75, pitch_top_hz=hz * 1.3)
    first = voice.judge(turn(110.0, -26.0))
    assert first.arousal == pytest.approx(model.first.logit(arousal.population_features(first)))
    assert all(v == 0.0 for v in first.z.values()) and "arousal_logit" in first.to_dict()
    second = turn(150.0, -18.0)  # higher and louder than this caller was
    history = list(voice.baseline.history)
    turn_odds = model.relative.logit(arousal.relative_features(second, history))
    judged = voice.judge(second)
    assert voice.turn_log_odds == pytest.approx([first.arousal, turn_odds])
    assert judged.arousal == pytest.approx((first.arousal + turn_odds) / 2)  # the caller's state, over two turns
    assert turn_odds > first.arousal and judged.arousal > first.arousal
    # a turn with too little voice says nothing
    assert voice.judge(prosody.Prosody(0.0, 0.0, -90.0, 0.0, 0.0, 0.05)).arousal == 0.0


def test_model_file_is_checked(tmp_path):
    doc = json.loads(arousal.DEFAULT_MODEL_PATH.read_text())
    doc["first_turn"]["features"][0] = "shoe_size"
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="unknown"):
        arousal.load(bad)
    doc = json.loads(arousal.DEFAULT_MODEL_PATH.read_text())
    doc["with_baseline"]["coef"].pop()
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="length"):
        arousal.load(bad)


def test_agitated_delivery_of_neutral_words_sounds_agitated_on_the_first_turn(models):
    from ivr.tools import synth_speech as ss

    voice = ss.TEST_VOICES[0]  # held out of training
    calm, agitated = ss.pair_deliveries(voice)
    text = "I have a question about my bill."
    logits = {}
    for d in (calm, agitated):
        p = prosody.with_transcript(prosody.extract(phone(ss.render(voice, d, text, models)), 16000), text)
        logits[d.name] = arousal.CallerVoice().judge(p).arousal
    assert logits["agitated"] > logits["calm"] + 1.0
