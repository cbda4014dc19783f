"""`ivr simulate`: a recorded caller through the live-call pipeline, without SIP.

The recording goes through the telephone band first (8 kHz, G.711 µ-law round trip), then into
the same VoiceCall a SIP call uses, at real-time pace or, with `fast`, on a simulated clock:
the caller's audio is fed as fast as the pipeline takes it, and the clock waits for every
decision the audio caused, so results match a real-time run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from calls.events import CallEvent, EndEvent
from calls.outcome import Outcome
from voice.audio import FRAME_MS, TELEPHONE_RATE, Audio, frames, telephone_band
from voice.call import VoiceCall, VoiceConfig
from voice.models import SpeechModels
from voice.playout import MediaClock, RecordedPlayout
from voice.processors import Responder
from voice.services import PromptCache

# After the recording ends the caller stays on the line until the bot has answered, up to this.
MAX_WAIT_AFTER_RECORDING_S = 15.0


@dataclass
class SimulationResult:
    events: list[CallEvent] = field(default_factory=list)
    bot_audio: np.ndarray | None = None
    out_rate: int = TELEPHONE_RATE
    outcome: Outcome | str = ""
    reply_latencies: list[float] = field(default_factory=list)
    barge_in_latencies: list[float] = field(default_factory=list)
    asr_seconds: list[float] = field(default_factory=list)
    tts_first_chunk_seconds: list[float] = field(default_factory=list)


async def simulate(
    audio: Audio,
    models: SpeechModels,
    prompts: PromptCache,
    responder: Responder,
    *,
    fast: bool = True,
    config: VoiceConfig | None = None,
    on_event: Callable[[CallEvent], None] | None = None,
    keys: list[tuple[float, str]] = (),
) -> SimulationResult:
    """``keys``: (media seconds, key) the caller presses, as `ivr call --dtmf` would."""
    result = SimulationResult()
    config = config or VoiceConfig()

    def emit(ev: CallEvent) -> None:
        result.events.append(ev)
        if on_event:
            on_event(ev)

    clock = MediaClock()
    playout = RecordedPlayout(clock, config.out_rate)
    call = VoiceCall(models, prompts, responder, playout, clock, emit, config)
    await call.start()
    # The bot answers at once: its greeting is queued at media time 0, before the caller's first frame.
    await call.settle()
    narrow = telephone_band(audio)
    frame_list = frames(narrow, TELEPHONE_RATE)
    silence = np.zeros(TELEPHONE_RATE * FRAME_MS // 1000, dtype=np.int16)
    t0 = time.monotonic()
    n = 0
    pending = sorted(keys)

    async def feed(frame: np.ndarray) -> None:
        nonlocal n
        # A key goes in ahead of the frame at its time, so the frame's settling covers it too.
        while pending and pending[0][0] <= clock.now:
            await call.feed_dtmf(pending.pop(0)[1])
        await call.feed_telephone_frame(frame)
        n += 1
        if fast:
            await call.settle()
        else:
            # Absolute deadlines: no drift however long the recording.
            delay = t0 + n * FRAME_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    outcome = Outcome.CALLER_HUNG_UP
    for f in frame_list:
        if call.hangup_requested.is_set() and playout.playing_until() <= clock.now:
            outcome = call.outcome or Outcome.BOT_RESOLVED
            break
        await feed(f)
    else:
        # The recording is over; the caller waits (in silence) for the bot's answer.
        waited = 0.0
        while waited < MAX_WAIT_AFTER_RECORDING_S:
            busy = (not call.progress.settled or playout.playing_until() > clock.now or call.turn_taking_busy
                    or bool(pending))
            if not busy:
                break
            await feed(silence)
            waited += FRAME_MS / 1000
        if call.hangup_requested.is_set():
            outcome = call.outcome or Outcome.BOT_RESOLVED
    duration = max(audio.duration, clock.now)
    await call.finish()
    result.outcome = outcome
    result.bot_audio = playout.audio(duration)
    result.reply_latencies = list(call.output.reply_latencies)
    result.barge_in_latencies = list(call.output.barge_in_latencies)
    result.asr_seconds = list(call.output.asr_seconds)
    result.tts_first_chunk_seconds = list(call.tts.first_chunk_seconds)
    emit(EndEvent(outcome=outcome))
    return result
