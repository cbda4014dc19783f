"""A live SIP call through the voice pipeline: RTP frames in, bot audio back into RTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import numpy as np

from calls.events import CallEvent, EndEvent
from calls.outcome import Outcome
from voice.call import VoiceCall, VoiceConfig
from voice.playout import CallPlayout, MediaClock
from voice.processors import Responder

HANGUP_GRACE_S = 0.5  # seconds after the last packet before the BYE: the caller's jitter buffer plays it out

log = logging.getLogger(__name__)


async def run_call(
    call,
    engine,
    responder: Responder,
    on_event: Callable[[CallEvent], None],
    config: VoiceConfig | None = None,
    on_transfer: Callable[[object], Awaitable[Outcome | str]] | None = None,
    prompts=None,
) -> Outcome | str:
    """Talk with the caller until either side hangs up, or hand over; returns how the call ended.

    When the bot's part ends in a transfer and `on_transfer` is given, the call is handed to it as
    soon as the hand-off line is queued: the agent's phone rings while the caller hears the line,
    and hold audio follows it without a gap. Its return value is the call's outcome.
    An Outcome, or the transport's end reason (`call.end_reason`) when the line dropped.
    """
    clock = MediaClock()
    playout = CallPlayout(call, clock, 8000)
    vc = VoiceCall(engine.models, prompts or engine.prompts, responder, playout, clock, on_event, config)
    await vc.start()
    outcome: Outcome | str = Outcome.CALLER_HUNG_UP

    async def keys() -> None:
        while True:
            await vc.feed_dtmf(await call.dtmf.get())

    key_task = asyncio.create_task(keys())
    handover = False
    drained_at: float | None = None
    loop = asyncio.get_running_loop()
    try:
        while True:
            if vc.hangup_requested.is_set():
                if vc.outcome == Outcome.TRANSFERRED and on_transfer is not None:
                    handover = True
                    break
                # Hang up once the goodbye has played out, and a moment later: the caller's jitter
                # buffer still holds its last syllable when our last packet leaves.
                # Wall time, not the media clock: frames read after a stall come in a burst.
                now = loop.time()
                if playout.playing_until() > clock.now:
                    drained_at = None
                elif drained_at is None:
                    drained_at = now
                elif now - drained_at >= HANGUP_GRACE_S:
                    outcome = vc.outcome or Outcome.BOT_RESOLVED
                    await call.hangup()
                    break
            frame = await call.read_frame()
            if frame is None:
                outcome = getattr(call, "end_reason", None) or outcome
                break
            await vc.feed_telephone_frame(np.frombuffer(frame, dtype=np.int16))
    finally:
        key_task.cancel()
        if not handover:
            await vc.finish()
    if handover:
        # The pipeline drains in the background; the transfer owns the call's media from now.
        finishing = asyncio.create_task(vc.finish())
        outcome = await on_transfer(call)
        await finishing
    on_event(EndEvent(outcome=outcome))
    return outcome
