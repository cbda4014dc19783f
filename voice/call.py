"""One call's voice pipeline on pipecat: caller audio in, bot audio out, events out.

    transport.input() → DtmfEntry → TurnTaking → Prosody → Whisper STT → BotTurn → Piper TTS → Output → transport.output()

The ends are `voice.sip_transport`'s processors, as any pipecat pipeline on the SIP transport has
them. Here the transport has no call of its own (fed mode): caller audio, upsampled to 16 kHz
by `feed_*`, is queued into the pipeline and goes through `transport.input()` as captured audio
would; the bot's audio is played by `CallOutputProcessor` on the call's media clock (its
`Playout`: RTP live, a buffer in the simulator), so `transport.output()` carries no audio yet
and only sees the pipeline's start and end.

The same class runs a live SIP call (fed from RTP, playing into RTP) and `ivr simulate` (fed
from a file, playing into a buffer), so what the simulator shows is what a caller gets.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import numpy as np
from pipecat.frames.frames import EndFrame, InputAudioRawFrame, InputDTMFFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.workers.runner import WorkerRunner

from calls.outcome import Outcome
from voice.audio import FRAME_MS, PIPELINE_RATE, TELEPHONE_RATE, Upsampler
from voice.dtmf_entry import DEFAULT_TIMEOUT_S, DtmfEntryProcessor
from voice.models import SpeechModels
from voice.playout import MediaClock, Playout
from voice.sip_transport import SIPParams, SIPTransport, keypad_entry
from voice.processors import (
    BotTurnProcessor,
    CallOutputProcessor,
    EventSink,
    Progress,
    ProsodyProcessor,
    Responder,
    TurnTakingProcessor,
)
from voice.services import PromptCache, SharedPiperTTSService, SharedWhisperSTTService
from voice.turns import TurnConfig

log = logging.getLogger(__name__)


@dataclass
class VoiceConfig:
    turns: TurnConfig = field(default_factory=TurnConfig)
    out_rate: int = TELEPHONE_RATE


class VoiceCall:
    """Runs the pipeline for one call. Feed caller audio with `feed_*`; `finish()` when it ends."""

    def __init__(
        self,
        models: SpeechModels,
        prompts: PromptCache,
        responder: Responder,
        playout: Playout,
        clock: MediaClock,
        on_event: EventSink,
        config: VoiceConfig | None = None,
        keypad_timeout_s: float = DEFAULT_TIMEOUT_S,  # a keyed number ends this long after its last key
        transport: SIPTransport | None = None,
    ):
        self.config = config or VoiceConfig()
        self.clock = clock
        if hasattr(responder, "bind_clock"):
            responder.bind_clock(lambda: clock.now)
        self.progress = Progress()
        self.progress.note(owed=1)  # the greeting: owed before the first frame of caller audio
        self.hangup_requested = asyncio.Event()
        self._frames_in = 0
        self._upsampler = Upsampler()
        prosody = ProsodyProcessor(PIPELINE_RATE)
        self.turn_taking = TurnTakingProcessor(self.config.turns, clock, playout, self.progress, transcribe=models.transcribe,
                                               analyse=prosody.analyse, prepare=getattr(responder, "prepare", None),
                                               expecting=getattr(responder, "expecting", None),
                                               smart_turn=models.smart_turn.probability)
        self.output = CallOutputProcessor(clock, playout, self.progress, on_event, on_hangup=self.hangup_requested.set)
        self.stt = SharedWhisperSTTService(models)
        self.tts = SharedPiperTTSService(models, prompts, sample_rate=self.config.out_rate)
        # Fed mode: no call of its own, and the audio out is CallOutputProcessor's (see above).
        self.transport = transport or SIPTransport(None, SIPParams(audio_in_sample_rate=PIPELINE_RATE,
                                                                   audio_out_enabled=False))
        self.pipeline = Pipeline(
            [
                self.transport.input(),
                DtmfEntryProcessor(getattr(responder, "expecting", None), self.progress, keypad_timeout_s,
                                   playing=lambda: playout.playing_until() > clock.now),
                self.turn_taking,
                prosody,
                self.stt,
                BotTurnProcessor(responder, on_event, self.progress),
                self.tts,
                self.output,
                self.transport.output(),
            ]
        )
        self.worker = PipelineWorker(
            self.pipeline,
            params=PipelineParams(audio_in_sample_rate=PIPELINE_RATE, audio_out_sample_rate=self.config.out_rate),
            cancel_on_idle_timeout=False,
            enable_rtvi=False,
            enable_turn_tracking=False,
            check_dangling_tasks=False,
        )
        self._runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
        self._run_task: asyncio.Task | None = None
        self._started = asyncio.Event()

        @self.worker.event_handler("on_pipeline_started")
        async def _started(_worker, _frame):
            self._started.set()

    async def start(self) -> None:
        await self._runner.add_workers(self.worker)
        self._run_task = asyncio.create_task(self._runner.run())
        await asyncio.wait_for(self._started.wait(), timeout=30)

    async def feed_telephone_frame(self, pcm8k: np.ndarray) -> None:
        """One 20 ms frame of caller audio at 8 kHz; advances the media clock by 20 ms."""
        for f16 in self._upsampler.push(pcm8k):
            await self.feed_pipeline_frame(f16)

    async def feed_pipeline_frame(self, pcm16k: np.ndarray) -> None:
        t = self._frames_in * FRAME_MS / 1000
        self._frames_in += 1
        self.clock.now = t + FRAME_MS / 1000
        frame = InputAudioRawFrame(audio=pcm16k.astype(np.int16).tobytes(), sample_rate=PIPELINE_RATE, num_channels=1)
        frame.metadata["t"] = t
        self.progress.fed += 1
        await self.worker.queue_frame(frame)

    async def feed_dtmf(self, digit: str) -> None:
        """A key press from the caller (RFC 4733 or SIP INFO)."""
        key = keypad_entry(digit)
        if key is None:
            log.info("ignoring DTMF %r: not a keypad key", digit)
            return
        await self.worker.queue_frame(InputDTMFFrame(button=key))

    @property
    def outcome(self) -> Outcome | None:
        """Set by the reply that ended the call (bot_resolved, transferred, abandoned)."""
        return self.output.outcome

    @property
    def turn_taking_busy(self) -> bool:
        """The caller is mid-turn (a turn has started and not yet ended)."""
        return self.turn_taking.in_turn

    async def settle(self) -> None:
        """Wait until everything the fed audio caused has reached the output (simulated clock)."""
        await self.progress.wait_settled()

    async def finish(self, timeout: float = 60.0) -> None:
        """The caller is gone: close the last turn, drain, stop the pipeline."""
        await self.worker.queue_frame(EndFrame())
        if self._run_task is not None:
            # asyncio.wait, not wait_for: on a timeout wait_for waits for the cancelled task too,
            # and a pipeline stuck behind an overloaded ASR pool may take as long again to go.
            done, _ = await asyncio.wait({self._run_task}, timeout=timeout)
            if not done:
                log.warning("pipeline did not drain in %.0f s; cancelling", timeout)
                await self.worker.cancel()
                done, _ = await asyncio.wait({self._run_task}, timeout=5.0)
                if not done:
                    self._run_task.cancel()  # the call is over either way: never leave it hanging
