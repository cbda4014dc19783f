"""Live transcription of a call leg after the hand-off, so the agent's desktop keeps a transcript.

The same turn detector and shared Whisper model as the bot's pipeline, over 8 kHz frames from a
bridge tap: every utterance is transcribed once, at its end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import numpy as np

from voice.audio import Upsampler
from voice.models import SpeechModels, no_end
from voice.turns import TurnConfig, TurnDetector, TurnEnded

log = logging.getLogger(__name__)


async def transcribe_leg(
    frames: asyncio.Queue,
    models: SpeechModels,
    on_text: Callable[[str, float, float], Awaitable[None] | None],
    config: TurnConfig | None = None,
) -> None:
    """Read 8 kHz PCM frames (bytes; None ends) and call `on_text(text, start, end)` per utterance."""
    detector = TurnDetector(config or TurnConfig(silence_ms=600, pause_ms=0, no_input_ms=0))
    up = Upsampler()
    n = 0
    pending: set[asyncio.Task] = set()

    async def finish(turn: TurnEnded) -> None:
        try:
            result = await models.transcribe(turn.audio, end=no_end)  # a record: no end of turn to decide
        except Exception:  # a failed transcription loses a line, never the call
            log.exception("live transcription failed")
            return
        if result.text:
            r = on_text(result.text, turn.start, turn.end)
            if asyncio.iscoroutine(r):
                await r

    while True:
        frame = await frames.get()
        if frame is None:
            break
        for f16 in up.push(np.frombuffer(frame, dtype=np.int16)):
            t = n * 0.02
            n += 1
            for ev in detector.feed(f16, t):
                if isinstance(ev, TurnEnded):
                    task = asyncio.create_task(finish(ev))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
    for ev in detector.flush():
        await finish(ev)
    if pending:
        await asyncio.gather(*pending)
