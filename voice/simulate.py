"""`ivr simulate`: a recorded caller through the live-call pipeline, without SIP.

The recording goes through the telephone band first (8 kHz, G.711 µ-law round trip), then into
the same VoiceCall and SIP transport a live call uses, through a `FileCall` (the telephony
Call's interface over the file), at real-time pace or, with `fast`, on a simulated clock:
the caller's audio is fed as fast as the pipeline takes it, and the clock waits for every
decision the audio caused, so results match a real-time run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from calls.events import CallEvent, EndEvent
from calls.outcome import Outcome
from voice.audio import FRAME_MS, TELEPHONE_RATE, Audio, frames, telephone_band
from voice.call import VoiceCall, VoiceConfig
from voice.models import SpeechModels
from voice.file_call import FileCall
from voice.playout import MediaClock
from voice.processors import Progress, Responder
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

    clock, progress = MediaClock(), Progress()
    narrow = telephone_band(audio)
    frame_list = frames(narrow, TELEPHONE_RATE)
    silence = np.zeros(TELEPHONE_RATE * FRAME_MS // 1000, dtype=np.int16)
    pending = sorted(keys)
    fed, waited = 0, 0.0

    async def next_frame() -> np.ndarray | None:
        """The recording, then silence while the caller waits for the bot's answer."""
        nonlocal fed, waited
        if vc.bot_ended:
            await asyncio.Event().wait()  # the bot hung up: the line closes (the transport stops reading)
        if fed < len(frame_list):
            frame = frame_list[fed]
            fed += 1
        else:
            busy = (not progress.settled or vc.schedule.playing_until() > clock.now or vc.turn_taking_busy
                    or bool(pending))
            if not busy or waited >= MAX_WAIT_AFTER_RECORDING_S:
                return None
            frame = silence
            waited += FRAME_MS / 1000
        # A key goes in ahead of the frame at its time, so the frame's settling covers it too.
        while pending and pending[0][0] <= clock.now:
            line.press(pending.pop(0)[1])
        return frame

    line = FileCall(clock, progress, next_frame, fast=fast, rate=config.out_rate)
    vc = VoiceCall(models, prompts, responder, line, emit, config, clock=clock, progress=progress, hangup_grace_s=0.0)
    await vc.start()
    await vc.run()
    outcome = (vc.outcome or Outcome.BOT_RESOLVED) if vc.hangup_requested.is_set() else Outcome.CALLER_HUNG_UP
    duration = max(audio.duration, clock.now)
    await vc.finish()
    result.outcome = outcome
    result.bot_audio = line.recording.audio(duration)
    result.reply_latencies = list(vc.output.reply_latencies)
    result.barge_in_latencies = list(vc.output.barge_in_latencies)
    result.asr_seconds = list(vc.output.asr_seconds)
    result.tts_first_chunk_seconds = list(vc.tts.first_chunk_seconds)
    emit(EndEvent(outcome=outcome))
    return result
