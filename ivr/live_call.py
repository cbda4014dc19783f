"""A live SIP call through the voice pipeline: RTP frames in, bot audio back into RTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from voice.call import VoiceCall, VoiceConfig
from voice.playout import CallPlayout, MediaClock
from voice.processors import Responder

log = logging.getLogger(__name__)


async def run_call(call, engine, responder: Responder, on_event: Callable[[dict], None], config: VoiceConfig | None = None) -> str:
    """Talk with the caller until either side hangs up; returns how the call ended."""
    clock = MediaClock()
    playout = CallPlayout(call, clock, 8000)
    vc = VoiceCall(engine.models, engine.prompts, responder, playout, clock, on_event, config)
    await vc.start()
    outcome = "caller_hung_up"

    async def keys() -> None:
        while True:
            await vc.feed_dtmf(await call.dtmf.get())

    key_task = asyncio.create_task(keys())
    try:
        while True:
            if vc.hangup_requested.is_set() and playout.playing_until() <= clock.now:
                outcome = vc.outcome or "bot_resolved"
                await call.hangup()
                break
            frame = await call.read_frame()
            if frame is None:
                outcome = getattr(call, "end_reason", None) or outcome
                break
            await vc.feed_telephone_frame(np.frombuffer(frame, dtype=np.int16))
    finally:
        key_task.cancel()
        await vc.finish()
        on_event({"event": "end", "outcome": outcome})
    return outcome
