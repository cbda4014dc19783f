"""Audio for the unseen-caller set: each line rendered in its caller's voice, cached on disk.

A line is built piece by piece (`ivr.tools.caller_script.parse_line`): speech synthesized by Piper or
espeak-ng (then, for some voices, a sox formant shift that makes another speaker), filler clips,
and silences of exactly the scripted length, so where each pause lies is known to the metrics.
Every clip is trimmed to a short margin and set to one speech level, so an SNR means the same
for every voice. Piper renders with its sampling noise off: its VITS graph draws from an
unseeded generator, and the set must sound the same on every run and machine.
Then the telephone line: 300-3400 Hz band-pass here, G.711 in the caller driver.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ivr.tools.caller_script import Noise, Piece, Voice, parse_line
from voice.audio import TELEPHONE_RATE, read_wav, resample, write_wav
from voice.scripted_caller import Utterance

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / "cache" / "callers"
RENDER_VERSION = 1
MARGIN_S = 0.05  # kept around each clip's sound: pauses are then what the script says (+0.1 s)
SPEECH_DBFS = -22.0  # RMS of the sounding part of every clip
PIPER_FILLERS = {"um": "Umm.", "uh": "Uh.", "er": "Er.", "hmm": "Hmm."}
BABBLE_LINES = (
    "And then she told me the train was late again, so I walked all the way home.",
    "We should get the blue one, it matches the kitchen much better than the other.",
    "Did you see the match last night? I couldn't believe that last goal.",
    "I'll have a coffee, please, and a slice of that lemon cake.",
    "No, the meeting moved to Thursday, they sent an email this morning.",
    "My sister is coming over this weekend with the kids and the dog.",
)


def _band_pass() -> np.ndarray:
    from scipy.signal import butter

    return butter(4, [300, 3400], btype="band", fs=TELEPHONE_RATE, output="sos")


def telephone_filter(x: np.ndarray) -> np.ndarray:
    """300-3400 Hz, as a handset and line pass it (float in, float out)."""
    from scipy.signal import sosfilt

    return sosfilt(_band_pass(), x)


def _sound_extent(x: np.ndarray, rate: int) -> tuple[int, int] | None:
    """First and last sample of 10 ms windows within 40 dB of the loudest (and above -60 dBFS)."""
    hop = rate // 100
    n = len(x) // hop
    if n == 0:
        return None
    rms = np.sqrt(np.mean(x[: n * hop].astype(float).reshape(n, hop) ** 2, axis=1)) / 32768
    db = 20 * np.log10(np.maximum(rms, 1e-9))
    loud = np.flatnonzero(db > max(db.max() - 40, -60))
    if len(loud) == 0:
        return None
    return int(loud[0] * hop), int((loud[-1] + 1) * hop)


def trim_and_level(x: np.ndarray, rate: int) -> np.ndarray:
    """Keep MARGIN_S around the sound, and set its RMS to SPEECH_DBFS."""
    ext = _sound_extent(x, rate)
    if ext is None:
        return np.zeros(0, dtype=np.int16)
    m = int(MARGIN_S * rate)
    a, b = max(0, ext[0] - m), min(len(x), ext[1] + m)
    y = x[a:b].astype(float)
    core = x[ext[0]:ext[1]].astype(float)
    gain = 32768 * 10 ** (SPEECH_DBFS / 20) / max(np.sqrt(np.mean(core**2)), 1.0)
    return np.clip(y * gain, -32768, 32767).astype(np.int16)


class Renderer:
    """Synthesizes clips in a voice, at 8 kHz, through a cache folder keyed by what made them."""

    def __init__(self, models, cache: Path = DEFAULT_CACHE):
        self.models = models
        self.cache = Path(cache)

    def clip(self, voice: Voice, piece: Piece) -> np.ndarray:
        text = piece.text if piece.kind == "speech" else self._filler_text(voice, piece.text)
        key = json.dumps({"v": RENDER_VERSION, "voice": asdict(voice) | {"heldout_only": None, "id": None},
                          "text": text}, sort_keys=True)
        path = self.cache / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.wav"
        if path.is_file():
            return read_wav(path).samples
        pcm, rate = self._synthesize(voice, text)
        if voice.sox:
            pcm, rate = _sox(pcm, rate, voice.sox)
        out = trim_and_level(resample(pcm, rate, TELEPHONE_RATE), TELEPHONE_RATE)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, out, TELEPHONE_RATE)
        return out

    @staticmethod
    def _filler_text(voice: Voice, filler: str) -> str:
        return PIPER_FILLERS[filler] if voice.engine == "piper" else filler

    def _synthesize(self, voice: Voice, text: str) -> tuple[np.ndarray, int]:
        if voice.engine == "piper":
            from piper import SynthesisConfig

            cfg = SynthesisConfig(length_scale=voice.rate, noise_scale=0.0, noise_w_scale=0.0)
            chunks = list(self.models.voice.synthesize(text, cfg))
            pcm = np.concatenate([np.frombuffer(c.audio_int16_bytes, dtype=np.int16) for c in chunks])
            return pcm, self.models.tts_rate
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "e.wav"
            subprocess.run(["espeak-ng", "-v", voice.espeak_voice, "-s", str(int(voice.rate)), "-w", str(wav), text],
                           check=True, capture_output=True)
            a = read_wav(wav)
        return a.samples, a.rate

    def line(self, voice: Voice, key: str, text: str) -> Utterance:
        """One scripted line: its pieces joined, band-passed; where its sounds are."""
        pieces = parse_line(text)
        parts, sounds, t = [], [], 0
        for p in pieces:
            if p.kind == "pause":
                x = np.zeros(int(round(p.seconds * TELEPHONE_RATE)), dtype=np.int16)
            else:
                x = self.clip(voice, p)
                m = int(MARGIN_S * TELEPHONE_RATE)
                if len(x) > 2 * m:
                    sounds.append(((t + m) / TELEPHONE_RATE, (t + len(x) - m) / TELEPHONE_RATE))
            parts.append(x)
            t += len(x)
        pcm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        pcm = np.clip(telephone_filter(pcm.astype(float)), -32768, 32767).astype(np.int16)
        return Utterance(key=key, pcm8k=pcm, sounds=tuple(sounds))

    def babble(self) -> np.ndarray:
        """A few talkers at once (Piper and espeak-ng voices over unrelated lines), for babble noise."""
        voices = [Voice("b1", "piper", 1.1), Voice("b2", "espeak", 150, "en-us"), Voice("b3", "espeak", 170, "en-gb"),
                  Voice("b4", "piper", 0.95, sox=("speed", "1.13", "pitch", "-212"))]
        streams = []
        for i, v in enumerate(voices):
            clips = [self.clip(v, Piece("speech", BABBLE_LINES[(i + j) % len(BABBLE_LINES)])) for j in range(3)]
            streams.append(np.concatenate([np.zeros(int(0.37 * i * TELEPHONE_RATE), dtype=np.int16), *clips]))
        n = min(len(s) for s in streams)
        return np.sum([s[:n].astype(float) for s in streams], axis=0)


def _sox(pcm: np.ndarray, rate: int, effects: tuple[str, ...]) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        write_wav(src, pcm, rate)
        subprocess.run(["sox", str(src), str(dst), *effects], check=True, capture_output=True)
        a = read_wav(dst)
    return a.samples, a.rate


class NoiseSource:
    """Noise at an SNR against the clips' speech level, band-passed like the line.

    White and pink noise run through the whole call (a noisy room or line; faded in over a second);
    babble (other people talking) only under the caller's own lines, since continuous speech
    would be heard as the caller talking over every reply, which tests barge-in, not this set."""

    def __init__(self, noise: Noise, seed: int, babble: np.ndarray | None = None):
        rng = np.random.default_rng(seed)
        n = 30 * TELEPHONE_RATE
        if noise.kind == "white":
            x = rng.normal(0, 1, n)
        elif noise.kind == "pink":
            spec = np.fft.rfft(rng.normal(0, 1, n))
            f = np.arange(len(spec), dtype=float)
            f[0] = 1.0
            x = np.fft.irfft(spec / np.sqrt(f), n)
        else:
            if babble is None:
                raise ValueError("babble noise needs the babble recording")
            x = babble.astype(float)
        x = telephone_filter(x)
        x = x / max(np.sqrt(np.mean(x**2)), 1e-9) * 32768 * 10 ** ((SPEECH_DBFS - noise.snr_db) / 20)
        self.continuous = noise.kind != "babble"
        self._x = x
        self._pos = int(rng.integers(0, len(x)))
        self._fed = 0

    def take(self, n: int) -> np.ndarray:
        idx = (self._pos + np.arange(n)) % len(self._x)
        self._pos = (self._pos + n) % len(self._x)
        out = self._x[idx]
        if self.continuous:
            ramp = np.minimum(1.0, (self._fed + np.arange(n)) / TELEPHONE_RATE)
            out = out * ramp
        self._fed += n
        return out
