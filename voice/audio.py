"""Audio at the edges: reading caller recordings, resampling, and the telephone band.

Everything inside the pipeline is mono int16 PCM. Rates are explicit at every boundary so
that 8 kHz telephone audio is never handed on as if it were 16 kHz (a known way to get no
transcripts at all from Whisper).
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from telephony import g711

TELEPHONE_RATE = 8000
PIPELINE_RATE = 16000
FRAME_MS = 20


class AudioError(ValueError):
    """A recording that cannot be used: missing, empty, not audio, or truncated."""


@dataclass(frozen=True)
class Audio:
    """Mono int16 samples at a known rate."""

    samples: np.ndarray
    rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


def read_wav(path: str | Path) -> Audio:
    """Read a recording of any usual rate, channel count and sample format, down-mixed to mono.

    Uses libsndfile (WAV, FLAC, OGG...) and refuses truncated files rather than playing
    half a call: a short read means the header promised more frames than the file holds.
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: empty file")
    try:
        with sf.SoundFile(str(p)) as f:
            promised = f.frames
            data = f.read(dtype="float32", always_2d=True)
            rate = f.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as exc:
        raise AudioError(f"{p}: not a readable audio file ({exc})") from None
    if promised > 0 and len(data) < promised:
        raise AudioError(f"{p}: truncated ({len(data)} of {promised} frames)")
    if _wav_is_truncated(p):
        raise AudioError(f"{p}: truncated (data chunk shorter than its header says)")
    if len(data) == 0:
        raise AudioError(f"{p}: no audio frames")
    mono = data.mean(axis=1)
    return Audio(float_to_int16(mono), rate)


def _wav_is_truncated(p: Path) -> bool:
    """libsndfile silently shortens a WAV whose data chunk is cut off; the header tells."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return False
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return False
                cid, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if cid == b"data":
                    if size in (0, 0xFFFFFFFF):  # streaming writers leave it open
                        return False
                    remaining = p.stat().st_size - fh.tell()
                    return remaining < size
                fh.seek(size + (size & 1), 1)
    except OSError:
        return False


def float_to_int16(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def int16_to_float(x: np.ndarray | bytes) -> np.ndarray:
    if isinstance(x, (bytes, bytearray, memoryview)):
        x = np.frombuffer(x, dtype=np.int16)
    return x.astype(np.float32) / 32768.0


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """int16 → int16 at another rate (soxr, high quality, ~1 ms for a sentence)."""
    if rate_in == rate_out:
        return samples.astype(np.int16, copy=False)
    y = soxr.resample(int16_to_float(samples), rate_in, rate_out, quality="HQ")
    return float_to_int16(y)


def telephone_band(audio: Audio) -> np.ndarray:
    """What a caller sounds like after the phone network: 8 kHz, G.711 µ-law round trip."""
    narrow = resample(audio.samples, audio.rate, TELEPHONE_RATE)
    return g711.ulaw_decode(g711.ulaw_encode(narrow))


def frames(samples: np.ndarray, rate: int, frame_ms: int = FRAME_MS) -> list[np.ndarray]:
    """Split into whole frames, zero-padding the last one."""
    n = rate * frame_ms // 1000
    pad = (-len(samples)) % n
    if pad:
        samples = np.concatenate([samples, np.zeros(pad, dtype=samples.dtype)])
    return [samples[i : i + n] for i in range(0, len(samples), n)]


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """Mono (1-D) or multi-channel (2-D, frames × channels) int16 WAV."""
    samples = np.asarray(samples, dtype=np.int16)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


class Upsampler:
    """Telephone frames (8 kHz) → pipeline frames (16 kHz), streaming, with 1.5 ms of delay.

    A windowed-sinc interpolator (49 taps, cut at 3.8 kHz, where G.711's band ends). soxr's
    streaming resampler, used before, held back 66-80 ms of audio in its filter at every quality
    but the crudest: the caller's last word reached end-of-turn detection that much later.
    """

    TAPS = 49  # odd: a whole-sample delay (24 samples, 1.5 ms)

    def __init__(self, rate_in: int = TELEPHONE_RATE, rate_out: int = PIPELINE_RATE, frame_ms: int = FRAME_MS):
        if rate_out % rate_in:
            raise ValueError(f"{rate_in} → {rate_out} Hz is not an integer factor")
        self._factor = rate_out // rate_in
        cutoff = min(3800.0, rate_in * 0.475) / rate_out  # cycles per output sample
        n = np.arange(self.TAPS) - (self.TAPS - 1) / 2
        h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(self.TAPS, 8.0)
        self._h = h * self._factor / h.sum()  # zero-stuffing divides the level by the factor
        self._hist = np.zeros(self.TAPS - 1)
        self._pending = np.zeros(0, dtype=np.int16)
        self._n = rate_out * frame_ms // 1000

    def push(self, pcm: np.ndarray) -> list[np.ndarray]:
        u = np.zeros(len(pcm) * self._factor)
        u[:: self._factor] = pcm
        buf = np.concatenate([self._hist, u])
        self._hist = buf[len(buf) - (self.TAPS - 1):]
        y = np.convolve(buf, self._h, mode="valid")
        self._pending = np.concatenate([self._pending, np.clip(np.round(y), -32768, 32767).astype(np.int16)])
        out = []
        while len(self._pending) >= self._n:
            out.append(self._pending[: self._n])
            self._pending = self._pending[self._n :]
        return out
