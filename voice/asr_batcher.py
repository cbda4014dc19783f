"""Whisper's first reading of turns from concurrent calls, decoded together.

CTranslate2's Whisper encodes and decodes a batch in one call, and on a loaded box one batch of
N turns costs less than N single ones (the matrix products are wider, the per-call overhead is
paid once). Turns that end within `max_wait_s` of each other (or fill `max_batch`) are read in
one `SpeechModels.read_first_batch`; each turn's second looks (a longer window, digits, end of
turn) then run on its own, as before. The wait is bounded, so a lone turn pays at most
`max_wait_s` (`python -m ivr.tools.bench_asr batch` measures both sides).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from calls.expectation import Expectation


@dataclass
class _Waiting:
    pcm16k: np.ndarray
    prompt: str | None
    done: asyncio.Future = field(repr=False)


class AsrBatcher:
    """One per event loop, in front of one `SpeechModels`."""

    def __init__(self, models, max_wait_s: float = 0.02, max_batch: int = 8):
        if max_wait_s < 0 or max_batch < 1:
            raise ValueError("max_wait_s must be >= 0 and max_batch >= 1")
        self.models = models
        self.max_wait_s = max_wait_s
        self.max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        self.batches: list[int] = []  # the size of every batch sent, for benchmarks and tests

    async def transcribe(self, pcm16k: np.ndarray, prompt: str | None = None,
                         expecting: Expectation | None = None, end=None):
        loop = asyncio.get_running_loop()
        w = _Waiting(pcm16k, prompt, loop.create_future())
        self._waiting.append(w)
        if len(self._waiting) >= self.max_batch:
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_wait_s, self._send)
        first = await w.done
        return await self.models.on_asr_worker(self.models.transcribe_sync, pcm16k, prompt, expecting, first, end)

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            self.batches.append(len(batch))
            asyncio.ensure_future(self._read(batch))

    async def _read(self, batch: list[_Waiting]) -> None:
        loop = asyncio.get_running_loop()
        try:
            firsts = await loop.run_in_executor(self.models.asr_pool, self.models.read_first_batch,
                                                [(w.pcm16k, w.prompt) for w in batch])
        except Exception as exc:  # every waiting turn hears of it; the calls go on
            for w in batch:
                if not w.done.done():
                    w.done.set_exception(exc)
            return
        for w, first in zip(batch, firsts):
            if not w.done.done():
                w.done.set_result(first)
