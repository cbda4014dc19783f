"""Labelled voice turns from every corpus the voice model trains or is judged on, as the phone hears them.

Each clip goes through the telephone band (8 kHz G.711 µ-law round trip, back to 16 kHz) and then
``voice.prosody.extract``, exactly as a caller's turn does. Corpora:

- ``polish``: acted anger vs neutral, 5 male speakers, single words (nkululeko sdist;
  ``scripts/fetch_eval_data.sh``). The word is in the file name, so the rate has its syllables.
- ``emodb``: the 7 EmoDB clips in the same sdist, one speaker, one sentence per emotion: high
  arousal (anger, joy, fear) vs low (neutral, boredom, sadness); disgust left out.
- ``synth-train`` / ``synth-test``: ``ivr.tools.synth_speech`` voices and sentences, kept apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

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


def phone_prosody(audio: Audio, text: str = "") -> Prosody:
    """What the prosody step sees of this recording after the phone network."""
    narrow = telephone_band(audio)
    p = prosody.extract(resample(narrow, TELEPHONE_RATE, PIPELINE_RATE), PIPELINE_RATE)
    return prosody.with_transcript(p, text) if text else p


def polish(cache: Path) -> list[VoiceSample]:
    from ivr.tools.eval_frustration import NEGATIVE, POSITIVE, load_polish

    out = []
    for c in load_polish(cache):
        if c.emotion in (POSITIVE, NEGATIVE):
            word = c.path.stem.split("_")[1] if c.path.stem.count("_") >= 2 else ""
            out.append(VoiceSample("polish", c.speaker, c.emotion == POSITIVE, word, phone_prosody(read_wav(c.path), word)))
    return out


def emodb(cache: Path) -> list[VoiceSample]:
    """EmoDB clips named like 03a01Wa.wav (speaker, text, emotion letter, version)."""
    out = []
    for wav in sorted((cache / "emodb").glob("*.wav")):
        label = _EMODB_AROUSAL.get(wav.name[5:6])
        if label is not None:
            out.append(VoiceSample("emodb", wav.name[:2], label, "", phone_prosody(read_wav(wav))))
    return out


def synth_train(cache: Path, models=None, seed: int = 0, per_sentence: int = 2) -> list[VoiceSample]:
    """The training voices saying the training sentences, calm and agitated deliveries."""
    rng = random.Random(seed)
    out = []
    for v in ss.TRAIN_VOICES:
        for text in ss.TRAIN_SENTENCES:
            for d in ss.training_deliveries(rng, per_sentence, v.engine):
                path = ss.cached_render(cache / "synth", v, d, text, models)
                out.append(VoiceSample("synth-train", v.name, d.agitated, text, phone_prosody(read_wav(path), text)))
    return out


def synth_pairs(cache: Path, models, voices: Sequence[ss.SynthVoice] = ss.TEST_VOICES,
                calls=ss.PAIR_CALLS) -> list[VoiceSample]:
    """The held-out pair calls: every test voice says every sentence set calmly and agitated."""
    out = []
    for v in voices:
        for name, sentences in calls:
            for d in ss.pair_deliveries(v):
                for text in sentences:
                    path = ss.cached_render(cache / "synth", v, d, text, models)
                    out.append(VoiceSample("synth-test", v.name, d.agitated, text, phone_prosody(read_wav(path), text),
                                           call=f"{v.name}/{name}/{d.name}"))
    return out
