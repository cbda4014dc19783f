"""Labelled voice turns from every corpus the voice model trains or is judged on, as the phone hears them.

Each clip goes through the telephone band (8 kHz G.711 µ-law round trip, back to 16 kHz) and then
``voice.prosody.extract``, exactly as a caller's turn does. Corpora:

- ``polish``: acted anger vs neutral, 5 male speakers, single words (nkululeko sdist;
  ``scripts/fetch_eval_data.sh``). The word is in the file name, so the rate has its syllables.
- ``emodb``: the 7 EmoDB clips in the same sdist, one speaker, one sentence per emotion: high
  arousal (anger, joy, fear) vs low (neutral, boredom, sadness); disgust left out.
- ``synth-train`` / ``synth-test``: ``ivr.tools.synth_speech`` voices and sentences, kept apart.

Features are cached on disk (``<cache>/features/``), keyed by the clip's bytes, its words and the
extractor's source code, so a second run of the evaluation extracts nothing and a change to
``voice/prosody.py`` re-extracts everything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from voice import prosody
from voice.audio import PIPELINE_RATE, TELEPHONE_RATE, Audio, read_wav, resample, telephone_band
from voice.prosody import Prosody

from ivr.tools import synth_speech as ss

_EMODB_AROUSAL = {"W": True, "F": True, "A": True, "N": False, "L": False, "T": False}


@dataclass
class VoiceSample:
    corpus: str
    speaker: str  # a person, or a synthetic voice
    agitated: bool
    text: str
    prosody: Prosody
    call: str = ""  # synthetic pair calls: which call (sentence set and delivery) the turn belongs to
    path: Path | None = None  # the clip, for extractors other than voice.prosody (eGeMAPS)


def phone_audio(audio: Audio):
    """The recording after the phone network (8 kHz G.711 µ-law round trip), back at the pipeline's rate."""
    return resample(telephone_band(audio), TELEPHONE_RATE, PIPELINE_RATE)


def phone_prosody(audio: Audio, text: str = "") -> Prosody:
    """What the prosody step sees of this recording after the phone network."""
    p = prosody.extract(phone_audio(audio), PIPELINE_RATE)
    return prosody.with_transcript(p, text) if text else p


def _source_hash(*modules) -> str:
    return hashlib.sha1("".join(inspect.getsource(m) for m in modules).encode()).hexdigest()[:12]


class FeatureCache:
    """One extractor's features per clip, in ``<root>/<kind>-<source hash>.json`` (written atomically)."""

    def __init__(self, root: Path | None, kind: str, version: str):
        self.path = None if root is None else root / f"{kind}-{version}.json"
        self.data: dict[str, dict] = {}
        if self.path is not None and self.path.is_file():
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        self.dirty = False

    def get(self, wav: Path, text: str, compute: Callable[[], dict]) -> dict:
        key = hashlib.sha1(wav.read_bytes() + b"\0" + text.encode()).hexdigest()
        if key not in self.data:
            self.data[key] = compute()
            self.dirty = True
        return self.data[key]

    def flush(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.partial")
        tmp.write_text(json.dumps(self.data), encoding="utf-8")
        tmp.replace(self.path)
        self.dirty = False


def _prosody_cache(cache: Path | None) -> FeatureCache:
    import voice.audio

    return FeatureCache(None if cache is None else cache / "features", "prosody", _source_hash(prosody, voice.audio))


def cached_prosody(fc: FeatureCache, wav: Path, text: str = "") -> Prosody:
    """``phone_prosody`` of the clip, from the cache when its bytes, words and the extractor are unchanged."""
    d = fc.get(wav, text, lambda: {k: v for k, v in dataclasses.asdict(phone_prosody(read_wav(wav), text)).items()
                                   if k not in ("z", "arousal")})
    return Prosody(**{**d, "bands_db": tuple(d["bands_db"])})


def egemaps(samples: Sequence[VoiceSample], cache: Path | None) -> list[dict[str, float]]:
    """Each sample's eGeMAPS v02 functionals of the phone-band clip (``voice.egemaps``; needs opensmile)."""
    import opensmile

    from voice import egemaps as eg

    fc = FeatureCache(None if cache is None else cache / "features", "egemaps",
                      _source_hash(eg) + opensmile.__version__.replace(".", ""))
    out = [fc.get(s.path, "", lambda s=s: eg.functionals(phone_audio(read_wav(s.path)), PIPELINE_RATE)) for s in samples]
    fc.flush()
    return out


def polish(cache: Path) -> list[VoiceSample]:
    from ivr.tools.polish_corpus import NEGATIVE, POSITIVE, load_polish

    out = []
    fc = _prosody_cache(cache)
    for c in load_polish(cache):
        if c.emotion in (POSITIVE, NEGATIVE):
            word = c.path.stem.split("_")[1] if c.path.stem.count("_") >= 2 else ""
            out.append(VoiceSample("polish", c.speaker, c.emotion == POSITIVE, word, cached_prosody(fc, c.path, word),
                                   path=c.path))
    fc.flush()
    return out


def emodb(cache: Path) -> list[VoiceSample]:
    """EmoDB clips named like 03a01Wa.wav (speaker, text, emotion letter, version)."""
    out = []
    fc = _prosody_cache(cache)
    for wav in sorted((cache / "emodb").glob("*.wav")):
        label = _EMODB_AROUSAL.get(wav.name[5:6])
        if label is not None:
            out.append(VoiceSample("emodb", wav.name[:2], label, "", cached_prosody(fc, wav), path=wav))
    fc.flush()
    return out


def synth_train(cache: Path, models=None, seed: int = 0, per_sentence: int = 2) -> list[VoiceSample]:
    """The training voices saying the training sentences, calm and agitated deliveries."""
    rng = random.Random(seed)
    out = []
    fc = _prosody_cache(cache)
    for v in ss.TRAIN_VOICES:
        for text in ss.TRAIN_SENTENCES:
            for d in ss.training_deliveries(rng, per_sentence, v.engine):
                path = ss.cached_render(cache / "synth", v, d, text, models)
                out.append(VoiceSample("synth-train", v.name, d.agitated, text, cached_prosody(fc, path, text), path=path))
    fc.flush()
    return out


def synth_pairs(cache: Path, models, voices: Sequence[ss.SynthVoice] = ss.TEST_VOICES,
                calls=ss.PAIR_CALLS) -> list[VoiceSample]:
    """The held-out pair calls: every test voice says every sentence set calmly and agitated."""
    out = []
    fc = _prosody_cache(cache)
    for v in voices:
        for name, sentences in calls:
            for d in ss.pair_deliveries(v):
                for text in sentences:
                    path = ss.cached_render(cache / "synth", v, d, text, models)
                    out.append(VoiceSample("synth-test", v.name, d.agitated, text, cached_prosody(fc, path, text),
                                           call=f"{v.name}/{name}/{d.name}", path=path))
    fc.flush()
    return out
