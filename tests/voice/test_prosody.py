import numpy as np
import pytest

from voice import prosody
from voice.audio import Audio, resample, telephone_band


def voiced(f0, seconds=2.0, rate=16000, amp=0.3, syllables_hz=4.0, pause=None):
    """A glottal-pulse-like harmonic signal with syllable-rate amplitude modulation."""
    t = np.arange(int(seconds * rate)) / rate
    f = np.interp(t, [0, seconds], f0 if isinstance(f0, tuple) else (f0, f0))
    phase = 2 * np.pi * np.cumsum(f) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = 0.55 + 0.45 * np.sin(2 * np.pi * syllables_hz * t - np.pi / 2)
    y = amp * x * env / 2
    if pause:
        a, b = pause
        y[int(a * rate) : int(b * rate)] = 0
    return (np.clip(y, -1, 1) * 32767).astype(np.int16)


def through_phone(x):
    return resample(telephone_band(Audio(x, 16000)), 8000, 16000)


def test_pitch_median_survives_the_telephone_band():
    for f0 in (110, 180, 240):
        p = prosody.extract(through_phone(voiced(f0)), 16000)
        assert abs(p.pitch_median_hz - f0) / f0 < 0.05
        assert p.pitch_range_st < 1.0


def test_pitch_range_of_a_glide():
    p = prosody.extract(voiced((100.0, 200.0)), 16000)
    assert 7 < p.pitch_range_st < 13  # an octave is 12 semitones; 10th→90th percentile is less


def test_energy_tracks_gain():
    quiet = prosody.extract(voiced(150, amp=0.1), 16000)
    loud = prosody.extract(voiced(150, amp=0.2), 16000)
    assert abs((loud.energy_db - quiet.energy_db) - 6.0) < 1.0


def test_speaking_rate_follows_syllable_rate():
    slow = prosody.extract(voiced(150, seconds=3, syllables_hz=3.0), 16000)
    fast = prosody.extract(voiced(150, seconds=3, syllables_hz=6.0), 16000)
    assert 2.0 < slow.speaking_rate_sps < 4.0
    assert fast.speaking_rate_sps > 1.6 * slow.speaking_rate_sps


def test_pause_ratio_from_vad_frames():
    x = voiced(150, seconds=2.0, pause=(0.5, 1.5))
    vad = np.zeros(100, dtype=bool)
    vad[:25] = True
    vad[75:] = True
    p = prosody.extract(x, 16000, vad)
    assert abs(p.pause_ratio - 0.5) < 0.02


def test_real_speech_rate_from_piper_speed(models):
    from piper import SynthesisConfig

    text = "I have been waiting on hold for almost an hour and nobody can help me with this."

    def speak(length_scale):
        chunks = models.voice.synthesize(text, SynthesisConfig(length_scale=length_scale))
        x = np.concatenate([np.frombuffer(c.audio_int16_bytes, dtype=np.int16) for c in chunks])
        return through_phone(resample(x, models.tts_rate, 16000))

    slow = prosody.with_transcript(prosody.extract(speak(1.3), 16000), text)
    fast = prosody.with_transcript(prosody.extract(speak(0.75), 16000), text)
    assert fast.speaking_rate_sps > 1.25 * slow.speaking_rate_sps
    assert 60 < slow.pitch_median_hz < 250


def test_baseline_z_scores_are_relative_to_the_same_caller():
    base = prosody.CallerBaseline()
    first = base.normalise(prosody.extract(voiced(120, amp=0.1), 16000))
    assert all(v == 0.0 for v in first.z.values())
    base.normalise(prosody.extract(voiced(122, amp=0.1), 16000))
    angry = base.normalise(prosody.extract(voiced(170, amp=0.3), 16000))
    assert angry.z["pitch_median_hz"] > 2 and angry.z["energy_db"] > 2
    calm = base.normalise(prosody.extract(voiced(121, amp=0.1), 16000))
    assert abs(calm.z["pitch_median_hz"]) < 2


def test_silence_gives_zeros_not_errors():
    p = prosody.extract(np.zeros(8000, dtype=np.int16), 16000)
    assert p.pitch_median_hz == 0.0 and p.voiced_seconds == 0.0
    d = p.to_dict()
    assert set(prosody.FEATURES) <= set(d)


@pytest.mark.parametrize("text,n", [("hello", 2), ("I already told you", 6), ("this is ridiculous", 6), ("four five six", 3), ("4 5 6 7", 5), ("", 0)])
def test_syllable_count(text, n):
    assert prosody.count_syllables(text) == n
