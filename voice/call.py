"""One call's voice pipeline on pipecat, on the SIP transport: caller audio in, bot audio out, events out.

    transport.input() → DtmfEntry → TurnTaking → Prosody → Whisper STT → BotTurn → Piper TTS → Output → transport.output() → end

The ends are `voice.sip_transport`'s, as any pipecat pipeline on the SIP transport has them:
`transport.input()` reads the call's RTP (and keys) itself, and each frame it reads moves the
call's media clock by 20 ms; `transport.output()` plays the bot's audio into RTP. The output
before it keeps the account of what plays when (`BotSchedule`) and reports replies; a barge-in
is pipecat's `InterruptionFrame`, which flushes the transport. The bot hangs up once its goodbye
has played out, by ending the pipeline: the transport's EndFrame sends the BYE after its grace.
A transfer (`hand_over`) takes the call once the hand-off line is all queued in RTP: the
transport lets go of it, so the agent's phone rings while the caller hears the line, and hold
audio follows it without a gap.

The same class runs a live SIP call and `ivr simulate` (a `voice.file_call.FileCall`: a
caller from a file, the bot recorded into a buffer), so what the simulator shows is what a
caller gets.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from pipecat.frames.frames import EndFrame, Frame, InputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.workers.runner import WorkerRunner

from calls.outcome import Outcome
from voice.audio import FRAME_MS, PIPELINE_RATE, TELEPHONE_RATE
from voice.dtmf_entry import DEFAULT_TIMEOUT_S, DtmfEntryProcessor
from voice.models import SpeechModels
from voice.frames import BotReplyEndFrame
from voice.playout import BotSchedule, MediaClock
from voice.sip_transport import SIPParams, SIPTransport
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


class _HandOver(FrameProcessor):
    """After the transport's output: a reply that ends the call in a transfer has all its audio in
    RTP once its end frame comes out here."""

    def __init__(self, on_hand_over, **kw):
        super().__init__(**kw)
        self._on_hand_over = on_hand_over

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, BotReplyEndFrame) and frame.end_call and frame.outcome == Outcome.TRANSFERRED:
            self._on_hand_over()
        await self.push_frame(frame, direction)


class VoiceCall:
    """Runs the pipeline for one call (a telephony `Call`, or a `FileCall`): `start()`, then
    `run()` until the call ends or is handed over, then `finish()`."""

    def __init__(
        self,
        models: SpeechModels,
        prompts: PromptCache,
        responder: Responder,
        call,
        on_event: EventSink,
        config: VoiceConfig | None = None,
        *,
        clock: MediaClock | None = None,
        progress: Progress | None = None,
        schedule: BotSchedule | None = None,
        keypad_timeout_s: float = DEFAULT_TIMEOUT_S,  # a keyed number ends this long after its last key
        hand_over: bool = False,  # a transfer takes the call from the pipeline (see the module's doc)
        hangup_grace_s: float = 0.5,  # after the last packet, before the BYE: the caller's jitter buffer
    ):
        self.config = config or VoiceConfig()
        self.call = call
        self.clock = clock = clock or MediaClock()
        self.schedule = playout = schedule or BotSchedule(clock, self.config.out_rate)
        if hasattr(responder, "bind_clock"):
            responder.bind_clock(lambda: clock.now)
        self.progress = progress or Progress()
        self.progress.note(owed=1)  # the greeting: owed before the first frame of caller audio
        self.hangup_requested = asyncio.Event()
        self.handed_over = asyncio.Event()
        self._hand_over = hand_over
        self._ending = False  # the bot ended the call: the pipeline is ending
        self._end_task: asyncio.Task | None = None
        self._frames_in = 0
        prosody = ProsodyProcessor(PIPELINE_RATE)
        self.turn_taking = TurnTakingProcessor(self.config.turns, clock, playout, self.progress, transcribe=models.transcribe,
                                               analyse=prosody.analyse, prepare=getattr(responder, "prepare", None),
                                               expecting=getattr(responder, "expecting", None),
                                               smart_turn=models.smart_turn.probability)
        self.output = CallOutputProcessor(clock, playout, self.progress, on_event, on_hangup=self.hangup_requested.set)
        self.stt = SharedWhisperSTTService(models)
        self.tts = SharedPiperTTSService(models, prompts, sample_rate=self.config.out_rate)
        # All the bot's audio goes to RTP at once: the schedule is the account of what plays when,
        # and a hand-over leaves the hand-off line queued in full.
        self.transport = SIPTransport(call, SIPParams(audio_in_sample_rate=PIPELINE_RATE, lookahead_ms=None,
                                                      hangup_grace_s=hangup_grace_s), on_audio=self._on_audio)
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
                _HandOver(self.handed_over.set if hand_over else (lambda: None)),
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

    def _on_audio(self, frame: InputAudioRawFrame) -> None:
        """Each caller frame the transport reads: its media time, and the clock moves 20 ms. Once
        the bot's goodbye has played out on that clock, the pipeline ends (the transport hangs up)."""
        t = self._frames_in * FRAME_MS / 1000
        self._frames_in += 1
        self.clock.now = t + FRAME_MS / 1000
        frame.metadata["t"] = t
        self.progress.fed += 1
        if (self.hangup_requested.is_set() and not self._ending and not self.handing_over
                and self.schedule.playing_until() <= self.clock.now):
            self._ending = True
            self._end_task = asyncio.get_running_loop().create_task(self.worker.queue_frame(EndFrame()))

    @property
    def handing_over(self) -> bool:
        return self._hand_over and self.outcome == Outcome.TRANSFERRED

    @property
    def bot_ended(self) -> bool:
        """The bot hung up (after its goodbye), rather than the caller."""
        return self._ending

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

    async def run(self) -> None:
        """Until the pipeline ends (either side hung up) or the call is handed over (`handed_over`)."""
        # The call's end too: a pipeline stuck behind an overloaded ASR pool must not hold it (finish's timeout).
        waits = {self._run_task, asyncio.ensure_future(self.handed_over.wait()), asyncio.ensure_future(self.call.ended.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits - {self._run_task}:
                w.cancel()
        if self.handed_over.is_set():
            await self.transport.release()

    async def finish(self, timeout: float = 60.0) -> None:
        """Close the last turn, drain, stop the pipeline (already stopping when a side hung up)."""
        if self._run_task is not None and not self._run_task.done() and not self._ending and not self.call.ended.is_set():
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
