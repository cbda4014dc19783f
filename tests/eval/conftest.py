"""A tiny synthetic stand-in for the Polish emotional-speech set, in its real layout.

``<root>/polish/POLISH/<spk>.<a|n|s>_<word>_<rep>.wav`` plus ``sdist_files/polish_{train,dev,test}.csv``
(file,speaker,gender,emotion,language), so the evaluation runs its real code path without the
network. Voiced "words" are harmonic tones with a syllable-rate envelope; anger is higher,
wider in pitch and louder than that speaker's neutral, fear in between; each speaker has his
own base pitch and level, so only a per-speaker baseline makes the classes comparable.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

RATE = 16000
SPEAKERS = {"m1": (100.0, 0.10), "m2": (130.0, 0.20), "m3": (165.0, 0.06)}  # base f0, level
EMOTIONS = {"n": ("neutral", 1.00, 1.0, 1.0), "a": ("anger", 1.35, 3.0, 2.2), "s": ("fear", 1.15, 0.6, 0.8)}
WORDS = ("tak", "nie", "stop")


def synth_word(f0: float, level: float, glide_st: float, rng: np.random.Generator, seconds: float = 0.8) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    # pitch glides over the word by `glide_st` semitones (the pitch range), with jitter per clip
    f0 = f0 * (1 + rng.normal(0, 0.03))
    contour = f0 * 2 ** ((glide_st * (t / seconds - 0.5)) / 12)
    phase = 2 * np.pi * np.cumsum(contour) / RATE
    voice = sum((0.7 ** h) * np.sin(h * phase) for h in range(1, 8))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t - np.pi / 2)  # ~3 syllables a second
    edge = np.minimum(1.0, np.minimum(t, seconds - t) / 0.05)
    y = level * (1 + rng.normal(0, 0.08)) * voice / 2.0 * envelope * edge
    pad = np.zeros(int(0.15 * RATE))
    y = np.concatenate([pad, y, pad]) + rng.normal(0, 0.002, len(pad) * 2 + len(y))
    return (np.clip(y, -1, 1) * 32767).astype(np.int16)


def build_fake_polish(root: Path, reps: int = 3, split: dict[str, str] | None = None, with_csv: bool = True) -> Path:
    """Write the set under ``root/polish``; returns ``root`` (the cache folder)."""
    from voice.audio import write_wav

    split = split or {"m1": "train", "m2": "train", "m3": "test"}
    rng = np.random.default_rng(7)
    base = root / "polish"
    (base / "POLISH").mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[list[str]]] = {}
    for spk, (f0, level) in SPEAKERS.items():
        for code, (emotion, pitch_x, glide, loud_x) in EMOTIONS.items():
            for word in WORDS:
                for rep in range(1, reps + 1):
                    name = f"{spk}.{code}_{word}_{rep}.wav"
                    write_wav(base / "POLISH" / name, synth_word(f0 * pitch_x, level * loud_x, glide, rng), RATE)
                    rows.setdefault(split[spk], []).append([f"POLISH/{name}", f"POLISH_{spk}", "male", emotion, "polish"])
    if with_csv:
        (base / "sdist_files").mkdir(exist_ok=True)
        for part, rs in rows.items():
            with open(base / "sdist_files" / f"polish_{part}.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["file", "speaker", "gender", "emotion", "language"])
                w.writerows(rs)
    (base / ".complete").write_text(str(sum(len(r) for r in rows.values())))
    return root


@pytest.fixture(scope="session")
def fake_polish(tmp_path_factory) -> Path:
    return build_fake_polish(tmp_path_factory.mktemp("eval_cache"))


SMALL_TURNS = """\
turns:
  - {text: "where is my order please", frustrated: false}
  - {text: "I'd like to pay my bill", frustrated: false}
  - {text: "yes that's right", frustrated: false}
  - {text: "can I change my address", frustrated: false}
  - {text: "what time do you open on Sunday", frustrated: false}
  - {text: "thanks, that's everything", frustrated: false}
  - {text: "this is ridiculous, I've had enough", frustrated: true}
  - {text: "I already told you my number, how many times", frustrated: true}
  - {text: "get me a real person now", frustrated: true}
  - text: "no. billing. I said billing"
    frustrated: true
    dialogue: {no_match_count: 2, turns_without_progress: 2}
  - {text: "this is useless, I've been on hold for an hour", frustrated: true}
  - {text: "oh great, thanks for nothing", frustrated: true}
"""


@pytest.fixture()
def small_turns(tmp_path) -> Path:
    p = tmp_path / "turns.yaml"
    p.write_text(SMALL_TURNS)
    return p


@pytest.fixture(scope="session")
def build_polish():
    """The builder itself, for tests that need a variant of the layout."""
    return build_fake_polish


def voice_sample(speaker: str, agitated: bool, rng, corpus: str = "c", lift: float = 4.0):
    """A hand-made labelled voice turn: an agitated one is ``lift`` semitones higher, louder and brighter."""
    from ivr.tools.voice_corpora import VoiceSample
    from voice.prosody import Prosody

    up = lift if agitated else 0.0
    hz = 110.0 * 2 ** ((up + rng.gauss(0, 1.0)) / 12)
    p = Prosody(hz, 3.0 + up / 2, -30.0 + up + rng.gauss(0, 1.0), 4.5, 0.2, 1.0, 1.2, pitch_floor_hz=hz * 0.8,
                pitch_top_hz=hz * 1.2, alpha_ratio_db=-15.0 + up, hammarberg_db=20.0 - up,
                bands_db=(-5.0, -6.0, -9.0, -14.0, -20.0))
    return VoiceSample(corpus, speaker, agitated, "", p)


@pytest.fixture()
def make_voice_sample():
    """``voice_sample`` for tests of the voice model's training and evaluation."""
    return voice_sample
