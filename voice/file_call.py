"""A call whose caller is a file or a script, for the simulator and the scripted callers.

It has the telephony `Call`'s media interface (read_frame / play / clear_playback /
playback_queued_ms / dtmf / hangup / ended), so the service's SIP transport reads and plays it
as it does a live call: one transport class serves both. The caller's side is `next_frame`,
asked for each 20 ms frame in turn (None: the caller hangs up); it may `press` keys, which
go into the pipeline ahead of the frame it returns. The bot's audio is recorded, time-aligned
with the caller's, on the media clock.

Pacing: `fast` hands out the next frame once everything the last one caused has reached the
output (`Progress` settled), so the decisions are those of a live call, sooner; otherwise one
frame per 20 ms of wall time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import numpy as np

from voice.audio import FRAME_MS
from voice.playout import MediaClock, RecordedPlayout
from voice.processors import Progress


class FileCall:
    def __init__(self, clock: MediaClock, progress: Progress, next_frame: Callable[[], Awaitable[np.ndarray | None]],
                 *, fast: bool = True, rate: int = 8000):
        self.clock = clock
        self.progress = progress
        self.recording = RecordedPlayout(clock, rate)
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        self._next_frame = next_frame
        self._fast = fast
        self._frames = 0
        self._t0: float | None = None

    def press(self, digit: str) -> None:
        self.dtmf.put_nowait(digit)

    async def read_frame(self) -> bytes | None:
        if self.ended.is_set():
            return None
        if self._fast or self._frames == 0:  # the greeting is queued at media time 0, before the first frame
            await self.progress.wait_settled()
        if not self._fast:
            # Absolute deadlines: no drift however long the recording.
            self._t0 = self._t0 if self._t0 is not None else time.monotonic()
            delay = self._t0 + self._frames * FRAME_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        pcm = await self._next_frame()
        if pcm is None:
            self.ended.set()
            return None
        await self.dtmf.join()  # the keys pressed for this moment are in the pipeline, ahead of the frame
        self._frames += 1
        return pcm.astype(np.int16).tobytes()

    def play(self, pcm8k: bytes) -> None:
        pcm = np.frombuffer(pcm8k, dtype=np.int16)
        self.recording.play(pcm)
        self.progress.note(audio_out=-len(pcm))

    def clear_playback(self) -> None:
        self.recording.stop()
        self.progress.note(audio_out=-self.progress.audio_out)

    def playback_queued_ms(self) -> float:
        return max(0.0, self.recording.playing_until() - self.clock.now) * 1000

    async def hangup(self) -> None:
        if not self.ended.is_set():
            self.end_reason = "local_bye"
            self.ended.set()
