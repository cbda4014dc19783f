"""Hold audio: a soft, continuous loop, so a caller on hold never hears dead air.

Callers hang up on silence (they think the line dropped), so there is no gap in it longer than a
few milliseconds: overlapping notes of a slow arpeggio with smooth envelopes, at a comfortable
level for the G.711 telephone band (fundamentals 300-900 Hz survive it).
"""

from __future__ import annotations

import numpy as np

RATE = 8000
_NOTES_HZ = (392.0, 493.9, 587.3, 740.0, 587.3, 493.9)  # G4 B4 D5 F#5 D5 B4
_NOTE_S = 0.6


def hold_loop(seconds: float = 7.2, rate: int = RATE, level_dbfs: float = -22.0) -> np.ndarray:
    """A loop that repeats seamlessly (a whole number of notes, each fading into the next)."""
    n = int(round(seconds / _NOTE_S)) * len(_NOTES_HZ) // len(_NOTES_HZ)
    n = max(n, len(_NOTES_HZ))
    total = int(n * _NOTE_S * rate)
    out = np.zeros(total, dtype=np.float64)
    note_len = int(_NOTE_S * rate)
    span = int(note_len * 1.6)  # each note rings into the next: no silence between them
    t = np.arange(span) / rate
    env = np.sin(np.pi * np.arange(span) / span) ** 2
    for i in range(n):
        f = _NOTES_HZ[i % len(_NOTES_HZ)]
        tone = (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2 * f * t)) * env
        start = i * note_len
        idx = (start + np.arange(span)) % total  # wrap around: the loop is seamless
        np.add.at(out, idx, tone)
    out /= np.max(np.abs(out))
    amp = 32767 * 10 ** (level_dbfs / 20)
    return (out * amp).astype(np.int16)


def longest_silence_s(pcm: np.ndarray, rate: int = RATE, floor_dbfs: float = -50.0, hop_ms: int = 10) -> float:
    """Longest run of audio quieter than `floor_dbfs`, in seconds (what a caller hears as dead air)."""
    hop = rate * hop_ms // 1000
    n = len(pcm) // hop
    if n == 0:
        return 0.0
    frames = pcm[: n * hop].astype(np.float64).reshape(n, hop)
    rms = np.sqrt(np.mean(frames**2, axis=1)) / 32768
    quiet = 20 * np.log10(np.maximum(rms, 1e-9)) < floor_dbfs
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best * hop_ms / 1000
