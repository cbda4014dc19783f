"""A live SIP call through the voice pipeline: the wiring of one call to `VoiceCall` on the SIP transport."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from calls.events import CallEvent, EndEvent
from calls.outcome import Outcome
from voice.call import VoiceCall, VoiceConfig
from voice.processors import Responder

HANGUP_GRACE_S = 0.5  # seconds after the last packet before the BYE: the caller's jitter buffer plays it out


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
    vc = VoiceCall(engine.models, prompts or engine.prompts, responder, call, on_event, config,
                   hand_over=on_transfer is not None, hangup_grace_s=HANGUP_GRACE_S)
    await vc.start()
    try:
        await vc.run()
    finally:
        if not vc.handed_over.is_set():
            await vc.finish()
    if vc.handed_over.is_set():
        # The pipeline drains in the background; the transfer owns the call's media from now.
        finishing = asyncio.create_task(vc.finish())
        outcome = await on_transfer(call)
        await finishing
    elif vc.bot_ended:
        outcome = vc.outcome or Outcome.BOT_RESOLVED
    else:
        outcome = getattr(call, "end_reason", None) or Outcome.CALLER_HUNG_UP
    on_event(EndEvent(outcome=outcome))
    return outcome
