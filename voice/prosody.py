"""Prosody per caller turn: pitch, energy, tempo, pauses, and each against the caller's own norm.

Anger and frustration are high-arousal: higher and wider pitch, more energy, faster speech.
Absolute values mostly say who is speaking (a deep voice is not a calm one), so every feature
is also given as a z-score against the same caller's earlier turns. Telephone audio has
nothing above 4 kHz, so everything here works on what survives the 8 kHz band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from voice.audio import FRAME_MS, int16_to_float

FEATURES = ("pitch_median_hz", "pitch_range_st", "energy_db", "speaking_rate_sps", "pause_ratio")
EXTRA_FEATURES = ("pitch_floor_hz", "pitch_top_hz", "pitch_sd_st", "pitch_delta_st", "energy_range_db", "energy_peak_db",
                  "noise_floor_db", "alpha_ratio_db", "hammarberg_db")
# Voiced spectrum in five telephone bands (share of the energy, dB): vocal effort and F1 height.
BAND_EDGES_HZ = (50, 300, 800, 1500, 2500, 3400)
BAND_KEYS = tuple(f"band_{a}_{b}_db" for a, b in zip(BAND_EDGES_HZ, BAND_EDGES_HZ[1:]))
PITCH_MIN_HZ = 60.0
PITCH_MAX_HZ = 400.0
HOP = 160  # 10 ms at 16 kHz


@dataclass
class Prosody:
    pitch_median_hz: float
    pitch_range_st: float  # 10th→90th percentile of voiced pitch, in semitones
    energy_db: float  # mean RMS of voiced frames, dBFS
    speaking_rate_sps: float  # syllables per second of speech (from the words once known)
    pause_ratio: float  # share of the turn (first to last voiced frame) that is silence
    voiced_seconds: float  # pitched audio
    speech_seconds: float = 0.0  # speech by the VAD, pauses excluded
    # Level-free and self-contained measures, for a turn with no baseline (voice.arousal uses them).
    pitch_floor_hz: float = 0.0  # 5th percentile of voiced pitch: the speaker's range class
    pitch_top_hz: float = 0.0  # 90th percentile of voiced pitch: how high the voice goes
    pitch_sd_st: float = 0.0  # spread of voiced pitch around its median, semitones
    pitch_delta_st: float = 0.0  # mean frame-to-frame pitch movement, semitones per 10 ms
    energy_range_db: float = 0.0  # 10th→90th percentile of voiced frame energy: dynamics
    energy_peak_db: float = 0.0  # 95th percentile minus median voiced frame energy: stressed peaks
    noise_floor_db: float = -90.0  # quietest frames of the turn: the line's own noise
    alpha_ratio_db: float = 0.0  # voiced energy 1-3.4 kHz over 50 Hz-1 kHz: vocal effort (eGeMAPS)
    hammarberg_db: float = 0.0  # spectral peak 0-2 kHz minus peak 2-3.4 kHz (eGeMAPS)
    bands_db: tuple[float, ...] = (0.0,) * 5  # BAND_KEYS, in order
    z: dict[str, float] = field(default_factory=dict)
    arousal: float | None = None  # voice.arousal's log-odds of an agitated delivery, once judged

    def to_dict(self) -> dict:
        d = {k: round(float(getattr(self, k)), 3) for k in FEATURES}
        d["voiced_seconds"] = round(self.voiced_seconds, 3)
        d["speech_seconds"] = round(self.speech_seconds, 3)
        d.update({k: round(float(getattr(self, k)), 3) for k in EXTRA_FEATURES})
        d.update({k: round(float(v), 3) for k, v in zip(BAND_KEYS, self.bands_db)})
        d.update({f"{k}_z": round(float(v), 3) for k, v in self.z.items()})
        if self.arousal is not None:
            d["arousal_logit"] = round(float(self.arousal), 3)
        return d


def extract(audio: np.ndarray, rate: int, voiced_frames: np.ndarray | None = None) -> Prosody:
    """Features of one turn. `voiced_frames` is the VAD's per-20 ms decision, if known."""
    import librosa

    y = int16_to_float(audio)
    if len(y) < rate // 10:
        y = np.pad(y, (0, rate // 10 - len(y)))
    frame_length = 1024 if rate >= 16000 else 512
    hop = HOP * rate // 16000
    rms = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop, center=True)[0]
    rms_db = 20 * np.log10(np.maximum(rms, 1e-6))
    # Voicing: loud enough relative to this turn's peak, and a pitch inside the human range.
    loud = rms_db > max(rms_db.max() - 30.0, -55.0)
    f0 = librosa.yin(y, fmin=PITCH_MIN_HZ, fmax=PITCH_MAX_HZ, sr=rate, frame_length=frame_length, hop_length=hop)
    n = min(len(f0), len(loud))
    f0, loud, rms_db = f0[:n], loud[:n], rms_db[:n]
    in_range = (f0 > PITCH_MIN_HZ * 1.05) & (f0 < PITCH_MAX_HZ * 0.95)
    voiced = loud & in_range
    pitched = f0[voiced]
    pitch_floor, pitch_top, pitch_sd, pitch_delta = 0.0, 0.0, 0.0, 0.0
    if len(pitched) >= 3:
        # A median filter removes octave jumps that yin makes at voicing edges.
        med = float(np.median(pitched))
        pitched = pitched[(pitched > med / 1.8) & (pitched < med * 1.8)]
        p5, p10, p50, p90 = np.percentile(pitched, [5, 10, 50, 90])
        pitch_median = float(p50)
        pitch_range = float(12 * math.log2(max(p90, 1e-3) / max(p10, 1e-3)))
        pitch_floor, pitch_top = float(p5), float(p90)
        pitch_sd = float(np.std(12 * np.log2(pitched / p50)))
        both = voiced[1:] & voiced[:-1]
        step = np.abs(np.diff(12 * np.log2(np.maximum(f0, 1.0))))[both]
        step = step[step < 3.0]  # larger jumps are octave errors, not intonation
        pitch_delta = float(step.mean()) if len(step) else 0.0
    else:
        pitch_median, pitch_range = 0.0, 0.0
    energy = float(np.mean(rms_db[loud])) if loud.any() else -90.0
    energy_range = energy_peak = 0.0
    if voiced.sum() >= 3:
        p10e, p50e, p90e, p95e = np.percentile(rms_db[voiced], [10, 50, 90, 95])
        energy_range, energy_peak = float(p90e - p10e), float(p95e - p50e)
    noise_floor = float(np.percentile(rms_db, 5))
    alpha, hammarberg, bands = _spectral_balance(y, rate, hop, voiced)

    # Speech extent and pauses from the VAD's frames when given, else from loudness.
    if voiced_frames is not None and len(voiced_frames) and voiced_frames.any():
        idx = np.flatnonzero(voiced_frames)
        span = voiced_frames[idx[0] : idx[-1] + 1]
        speech_s = float(span.sum()) * FRAME_MS / 1000
        pause_ratio = 1.0 - float(span.mean())
    else:
        idx = np.flatnonzero(loud)
        span = loud[idx[0] : idx[-1] + 1] if len(idx) else loud
        speech_s = float(span.sum()) * hop / rate
        pause_ratio = 1.0 - float(span.mean()) if len(span) else 0.0

    rate_sps = _syllable_rate(rms_db, loud, hop, rate, speech_s)
    return Prosody(pitch_median, pitch_range, energy, rate_sps, pause_ratio, float(voiced.sum()) * hop / rate, speech_s,
                   pitch_floor, pitch_top, pitch_sd, pitch_delta, energy_range, energy_peak, noise_floor, alpha,
                   hammarberg, bands)


_BAND_HZ = (50.0, 1000.0, 2000.0, 3400.0)  # what the telephone band keeps; eGeMAPS uses 1 and 2 kHz splits


def _spectral_balance(y: np.ndarray, rate: int, hop: int, voiced: np.ndarray) -> tuple[float, float, tuple]:
    """Alpha ratio, Hammarberg index and band shares of the voiced frames' mean spectrum, in dB.

    More vocal effort tilts energy towards the higher harmonics; both measures are ratios within
    one turn, so the caller's handset gain and the line's level cancel out.
    """
    n_fft = 512 * rate // 16000
    idx = np.flatnonzero(voiced)
    none = (0.0, 0.0, (0.0,) * (len(BAND_EDGES_HZ) - 1))
    if len(idx) < 3:
        return none
    starts = idx * hop - n_fft // 2  # librosa frames are centred
    starts = starts[(starts >= 0) & (starts + n_fft <= len(y))]
    if len(starts) < 3:
        return none
    starts = starts[:: max(1, len(starts) // 120)]  # a mean spectrum needs no more frames than this
    frames_ = y[starts[:, None] + np.arange(n_fft)] * np.hanning(n_fft)
    power = np.mean(np.abs(np.fft.rfft(frames_, axis=1)) ** 2, axis=0) + 1e-12
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    lo, mid, hi, top = _BAND_HZ
    low_band = (freqs >= lo) & (freqs < mid)
    high_band = (freqs >= mid) & (freqs < top)
    alpha = 10 * math.log10(power[high_band].sum() / power[low_band].sum())
    peak_low = power[(freqs >= lo) & (freqs < hi)].max()
    peak_high = power[(freqs >= hi) & (freqs < top)].max()
    edges = BAND_EDGES_HZ
    band = np.array([power[(freqs >= a) & (freqs < b)].sum() for a, b in zip(edges, edges[1:])])
    shares = tuple(float(v) for v in 10 * np.log10(band / band.sum()))
    return float(alpha), float(10 * math.log10(peak_low / peak_high)), shares


def with_transcript(p: Prosody, text: str) -> Prosody:
    """Speaking rate from the words: energy peaks merge in fast speech, syllables in text don't.

    Whisper's words over the VAD's speech time is an articulation rate that scales with how fast
    the caller really talks; the acoustic estimate stays as the fallback for turns with no text.
    """
    syllables = count_syllables(text)
    if syllables and p.speech_seconds > 0.2:
        p.speaking_rate_sps = syllables / p.speech_seconds
    return p


_NUMBER_SYLLABLES = {"0": 2, "1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 2, "8": 1, "9": 1}


def count_syllables(text: str) -> int:
    """Vowel groups per word, with the silent final e; digits as spoken one by one."""
    import re

    total = 0
    for word in re.findall(r"[a-zA-Z']+|\d", text.lower()):
        if word.isdigit():
            total += _NUMBER_SYLLABLES[word]
            continue
        w = word.replace("'", "")
        groups = re.findall(r"[aeiouy]+", w)
        n = len(groups)
        if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and n > 1:
            n -= 1
        total += max(1, n)
    return total


def _syllable_rate(rms_db: np.ndarray, loud: np.ndarray, hop: int, rate: int, speech_s: float) -> float:
    """Syllable nuclei as prominent peaks of the smoothed energy envelope (de Jong & Wempe style)."""
    from scipy.signal import find_peaks

    if speech_s <= 0.05:
        return 0.0
    kernel = np.hanning(5)
    env = np.convolve(rms_db, kernel / kernel.sum(), mode="same")
    # Peaks at least 2 dB above their surroundings, at most ~12 syllables per second.
    min_dist = max(1, int(0.08 * rate / hop))
    peaks, _ = find_peaks(env, prominence=2.0, distance=min_dist)
    peaks = [p for p in peaks if loud[p]]
    return len(peaks) / speech_s


class CallerBaseline:
    """Running per-caller statistics, to express each turn against the caller's own earlier turns."""

    def __init__(self):
        self.history: list[Prosody] = []

    def normalise(self, p: Prosody) -> Prosody:
        z = {}
        for k in FEATURES:
            prev = [getattr(h, k) for h in self.history if h.voiced_seconds > 0.2]
            if len(prev) == 0 or p.voiced_seconds <= 0.2:
                z[k] = 0.0
                continue
            mean = float(np.mean(prev))
            # With one or two earlier turns the spread is unknown; assume a typical one.
            spread = float(np.std(prev)) if len(prev) >= 3 else 0.0
            spread = max(spread, _TYPICAL_SPREAD[k])
            z[k] = float(np.clip((getattr(p, k) - mean) / spread, -5, 5))
        p.z = z
        self.history.append(p)
        return p


# Typical within-speaker turn-to-turn spread, the floor under each z-score's denominator.
_TYPICAL_SPREAD = {
    "pitch_median_hz": 15.0,
    "pitch_range_st": 1.5,
    "energy_db": 3.0,
    "speaking_rate_sps": 0.8,
    "pause_ratio": 0.08,
}


def warm_up() -> None:
    """librosa/numba compile on first use; pay that at start-up, not on a caller's first turn."""
    t = np.arange(16000) / 16000
    tone = (0.2 * np.sin(2 * np.pi * 150 * t) * 32767).astype(np.int16)
    extract(tone, 16000, np.ones(50, dtype=bool))
