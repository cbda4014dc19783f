"""Where the bot's audio goes, on the call's media clock.

The media clock counts the caller's audio: 20 ms per frame received. On a live call that is
wall time; in `ivr simulate --fast` it is simulated, so the same pipeline gives the same results
faster than real time. Bot audio is scheduled on that clock, which is what lets barge-in,
reply timing and the simulator's output file agree about when the bot was talking.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class MediaClock:
    def __init__(self):
        self.now = 0.0  # media seconds


class Playout(Protocol):
    rate: int

    def play(self, pcm: np.ndarray) -> float:
        """Queue audio after whatever is queued; return the media time it starts playing."""

    def stop(self) -> None:
        """Drop everything not yet played (barge-in)."""

    def playing_until(self) -> float:
        """Media time at which the queued audio runs out."""


class RecordedPlayout:
    """Plays into a buffer time-aligned with the caller's recording (the simulator's output)."""

    def __init__(self, clock: MediaClock, rate: int = 8000):
        self.clock = clock
        self.rate = rate
        self._buf = np.zeros(0, dtype=np.int16)
        self._end = 0.0

    def play(self, pcm: np.ndarray) -> float:
        start = max(self.clock.now, self._end)
        i0 = int(round(start * self.rate))
        i1 = i0 + len(pcm)
        if i1 > len(self._buf):
            self._buf = np.concatenate([self._buf, np.zeros(i1 - len(self._buf) + self.rate, dtype=np.int16)])
        self._buf[i0:i1] = pcm
        self._end = i1 / self.rate
        return start

    def stop(self) -> None:
        cut = int(round(self.clock.now * self.rate))
        self._buf[cut:] = 0
        self._end = min(self._end, self.clock.now)

    def playing_until(self) -> float:
        return self._end

    def audio(self, duration: float) -> np.ndarray:
        n = max(int(round(duration * self.rate)), int(round(self._end * self.rate)))
        out = np.zeros(n, dtype=np.int16)
        m = min(n, len(self._buf))
        out[:m] = self._buf[:m]
        return out


class CallPlayout:
    """Plays into a live telephony call (anything with play / clear_playback / playback_queued_ms)."""

    def __init__(self, call, clock: MediaClock, rate: int = 8000):
        self.call = call
        self.clock = clock
        self.rate = rate

    def play(self, pcm: np.ndarray) -> float:
        start = self.playing_until()
        self.call.play(pcm.astype(np.int16).tobytes())
        return start

    def stop(self) -> None:
        self.call.clear_playback()

    def playing_until(self) -> float:
        return self.clock.now + self.call.playback_queued_ms() / 1000.0
