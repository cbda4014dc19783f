"""The evaluation data on disk: where it is cached, and the Polish anger/neutral set read from it.

Shared by the frustration evaluation, the voice model's training and its corpora, and the ASR
evaluation, so none of them imports another to find its data (scripts/fetch_eval_data.sh fetches it).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / "cache" / "eval"
POSITIVE, NEGATIVE = "anger", "neutral"
_EMOTION_CODES = {"a": "anger", "n": "neutral", "s": "fear"}  # file names: m1.a_nie_2.wav


def default_cache() -> Path:
    env = os.environ.get("IVR_EVAL_CACHE")
    return Path(env) if env else DEFAULT_CACHE


# ---------------------------------------------------------------------------- the Polish set


@dataclass
class Clip:
    path: Path
    speaker: str
    emotion: str
    split: str = ""  # train / dev / test from the set's own csv files, "" if none
    prosody: Any = None  # voice.prosody.Prosody, after extraction
    z: dict[str, float] = field(default_factory=dict)


class MissingData(RuntimeError):
    pass


def load_polish(cache: Path) -> list[Clip]:
    """The clips, speakers, emotions and the set's own split, from ``<cache>/polish``."""
    root = cache / "polish"
    if not root.is_dir():
        raise MissingData(f"no evaluation data in {root}")
    clips: dict[Path, Clip] = {}
    csvs = sorted(root.rglob("polish_*.csv"))
    for c in csvs:
        split = c.stem.split("_", 1)[1]
        with open(c, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                wav = root / row["file"]
                if not wav.is_file():
                    continue
                key = wav.resolve()
                if key in clips:  # listed in two split files: keep both names, the check below sees it
                    clips[key].split = "+".join(sorted({*clips[key].split.split("+"), split}))
                else:
                    clips[key] = Clip(wav, row["speaker"], row["emotion"], split)
    if not clips:  # no split files: read speaker and emotion from the names
        for wav in sorted(root.rglob("*.wav")):
            spk, _, rest = wav.name.partition(".")
            emo = _EMOTION_CODES.get(rest[:1])
            if emo:
                clips[wav.resolve()] = Clip(wav, spk, emo)
    out = sorted(clips.values(), key=lambda c: str(c.path))
    if len(out) < 12 or not any(c.emotion == POSITIVE for c in out) or not any(c.emotion == NEGATIVE for c in out):
        raise MissingData(f"no usable anger/neutral clips in {root}")
    return out


def phone_prosody(path: Path):
    """``voice.prosody.extract`` of what the clip sounds like after the phone network."""
    from voice import prosody
    from voice.audio import PIPELINE_RATE, TELEPHONE_RATE, read_wav, resample, telephone_band

    audio = read_wav(path)
    narrow = telephone_band(audio)  # 8 kHz, µ-law round trip
    return prosody.extract(resample(narrow, TELEPHONE_RATE, PIPELINE_RATE), PIPELINE_RATE)
