"""Shared test fixtures: the process's speech models and synthetic callers with known timing.

Callers are spoken by Piper (the project's voice) or espeak-ng (a very different, formant voice),
placed at known offsets, so tests can check turn boundaries against where speech really is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from voice.audio import read_wav, resample, write_wav
from voice.models import shared_models

# Every `ivr serve` and `ivr simulate` the suite starts shares one start-up cache (var/cache of
# this checkout, or $IVR_CACHE_DIR): the first start builds what is missing (`make test` runs
# `ivr warm` first), and every later one reads it instead of fitting and synthesizing again.
os.environ.setdefault("IVR_CACHE_DIR", str(Path(__file__).resolve().parents[1] / "var" / "cache"))


@pytest.fixture(scope="session")
def models():
    m = shared_models()
    m.load()
    return m


@dataclass
class Segment:
    text: str
    start: float  # seconds where speech (above the noise floor) starts in the caller file
    end: float


@dataclass
class Caller:
    path: Path
    rate: int
    segments: list[Segment]
    duration: float


def speech_extent(x: np.ndarray, rate: int) -> tuple[float, float]:
    """First and last 10 ms window louder than -40 dBFS."""
    hop = rate // 100
    n = len(x) // hop
    rms = np.sqrt(np.mean(x[: n * hop].astype(float).reshape(n, hop) ** 2, axis=1)) / 32768
    loud = np.flatnonzero(20 * np.log10(np.maximum(rms, 1e-9)) > -40)
    return loud[0] * hop / rate, (loud[-1] + 1) * hop / rate


def _espeak(text: str, rate: int, tmp: Path) -> np.ndarray:
    wav = tmp / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav), text], check=True)
    a = read_wav(wav)
    return resample(a.samples, a.rate, rate)


@pytest.fixture(scope="session")
def make_caller(models, tmp_path_factory):
    """make_caller([(pause_before_s, text), ...], voice="piper"|"espeak", rate=16000, channels=1, tail=3.0)."""
    tmp = tmp_path_factory.mktemp("callers")
    counter = iter(range(10_000))

    def make(script, voice="piper", rate=16000, channels=1, tail=3.0, gain=1.0, noise_db=None) -> Caller:
        parts, segments, t = [], [], 0.0
        for pause, text in script:
            parts.append(np.zeros(int(pause * rate), dtype=np.int16))
            t += pause
            if voice == "espeak":
                if not shutil.which("espeak-ng"):
                    raise RuntimeError("espeak-ng is not installed (make test installs it)")
                speech = _espeak(text, rate, tmp)
            else:
                speech = models.synthesize_all(text, rate)
            speech = np.clip(speech.astype(float) * gain, -32768, 32767).astype(np.int16)
            s0, s1 = speech_extent(speech, rate)
            segments.append(Segment(text, t + s0, t + s1))
            parts.append(speech)
            t += len(speech) / rate
        parts.append(np.zeros(int(tail * rate), dtype=np.int16))
        x = np.concatenate(parts)
        if noise_db is not None:
            rng = np.random.default_rng(7)
            x = np.clip(x + rng.standard_normal(len(x)) * 32768 * 10 ** (noise_db / 20), -32768, 32767).astype(np.int16)
        path = tmp / f"caller{next(counter)}.wav"
        if channels > 1:
            x2 = np.stack([x] * channels, axis=1)
            write_wav(path, x2, rate)
        else:
            write_wav(path, x, rate)
        return Caller(path, rate, segments, len(x) / rate)

    return make
