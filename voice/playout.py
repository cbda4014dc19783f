"""When the bot's audio plays, on the call's media clock.

The media clock counts the caller's audio: 20 ms per frame received. On a live call that is
wall time; in `ivr simulate --fast` it is simulated, so the same pipeline gives the same results
faster than real time. The call's output hands the bot's audio to the transport, which plays it
into RTP (or into the simulator's file), and keeps this account of it: `BotSchedule`, which is
what lets barge-in, reply timing and the simulator's output file agree about when the bot was
talking, whatever buffering lies between the pipeline and the wire.
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


class BotSchedule:
    """The bot's audio as the caller hears it: each chunk starts when the last one ends, or now."""

    def __init__(self, clock: MediaClock, rate: int = 8000):
        self.clock = clock
        self.rate = rate
        self._end = 0.0

    def play(self, pcm: np.ndarray) -> float:
        start = max(self.clock.now, self._end)
        self._end = (int(round(start * self.rate)) + len(pcm)) / self.rate  # to the sample, as recorded
        return start

    def stop(self) -> None:
        self._end = min(self._end, self.clock.now)

    def playing_until(self) -> float:
        return self._end


class RecordedPlayout(BotSchedule):
    """Plays into a buffer time-aligned with the caller's recording (the simulator's output)."""

    def __init__(self, clock: MediaClock, rate: int = 8000):
        super().__init__(clock, rate)
        self._buf = np.zeros(0, dtype=np.int16)

    def play(self, pcm: np.ndarray) -> float:
        start = super().play(pcm)
        i0 = int(round(start * self.rate))
        i1 = i0 + len(pcm)
        if i1 > len(self._buf):
            self._buf = np.concatenate([self._buf, np.zeros(i1 - len(self._buf) + self.rate, dtype=np.int16)])
        self._buf[i0:i1] = pcm
        return start

    def stop(self) -> None:
        cut = int(round(self.clock.now * self.rate))
        self._buf[cut:] = 0
        super().stop()

    def audio(self, duration: float) -> np.ndarray:
        n = max(int(round(duration * self.rate)), int(round(self._end * self.rate)))
        out = np.zeros(n, dtype=np.int16)
        m = min(n, len(self._buf))
        out[:m] = self._buf[:m]
        return out
