"""The call pipeline's own pipecat processors: turn-taking, prosody, the bot's turn, the output.

Each is a FrameProcessor, testable alone with pipecat's run_test: frames in, frames out.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Protocol

import numpy as np
from pipecat.frames.frames import (
    CancelFrame,
    DataFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
    TTSSpeakFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice import prosody as prosody_mod
from voice.arousal import CallerVoice
from voice.audio import FRAME_MS
from voice.frames import (
    BotReplyEndFrame,
    BotReplyStartFrame,
    CallerKeyPressedFrame,
    CallerSpeechStartedFrame,
    CallerTurnFrame,
)
from voice.playout import MediaClock, Playout
from calls.events import BotEvent, CallEvent, DtmfEvent, NoInputEvent, StagesEvent, TurnEvent
from calls.expectation import Expectation
from calls.outcome import Outcome
from voice.asr_prompts import prompt_for
from voice.endpointing import TurnEvidence, answer_pending, transcript_complete
from voice.smart_turn import WINDOW_S
from voice.turns import SpeechStarted, TurnConfig, TurnDetector, TurnEnded, TurnPaused, TurnResumed

EventSink = Callable[[CallEvent], None]


class Progress:
    """Counts work the pipeline owes the caller, so a simulated clock can wait for it.

    With `--fast` the caller's audio is fed as fast as the pipeline takes it; before the media
    clock moves on, every frame fed must have been looked at and every decision it caused
    (a turn to answer, a barge-in to act on) must have reached the output, and the bot's audio
    the output passed on must have reached the call (`audio_out`, samples: a `FileCall` counts
    them off as the transport plays them, so its recording is where the output scheduled it).
    """

    def __init__(self):
        self.fed = 0
        self.seen = 0
        self.owed = 0
        self.audio_out = 0
        self._changed = asyncio.Event()

    def note(self, *, seen: int = 0, owed: int = 0, audio_out: int = 0) -> None:
        self.seen += seen
        self.owed += owed
        # The transport pads a reply's last chunk with silence: more may arrive than was sent.
        self.audio_out = max(0, self.audio_out + audio_out)
        self._changed.set()

    @property
    def settled(self) -> bool:
        return self.seen >= self.fed and self.owed <= 0 and self.audio_out <= 0

    async def wait_settled(self) -> None:
        while not self.settled:
            self._changed.clear()
            await self._changed.wait()


@dataclass
class Speculation:
    """A transcription of the turn so far, started at a pause; stale once the caller speaks again."""

    pause_id: int
    task: asyncio.Task
    follow: asyncio.Task | None = None  # what follows the transcription (NLU head start, prosody)
    expecting: Expectation | None = None  # what the bot was waiting for when the pause came
    voice: asyncio.Task | None = None  # Smart Turn's P(complete), asked at `smart_turn_ms` of silence
    wait: int | None = None  # the silence (ms) its evidence says ends the turn, once decided


class TurnTakingProcessor(FrameProcessor):
    """Caller audio in; CallerSpeechStartedFrame (and InterruptionFrame on barge-in) and CallerTurnFrame out.

    With `transcribe`, every pause of `pause_ms` starts a transcription of the turn so far. If the
    caller speaks again it is dropped; if it comes back reading as a finished turn
    (`transcript_complete`) the turn ends there, with its transcript, instead of at `silence_ms`.
    A turn that ends at `silence_ms` still takes the transcription of its last pause with it.
    With `analyse`, the pause's prosody follows its transcription, and with `prepare` (the
    responder's, in a thread) so does the NLU's heavy part: a turn that ends there has exactly
    that audio and text, so little is left to compute for it but the reply.
    """

    def __init__(self, config: TurnConfig, clock: MediaClock, playout: Playout, progress: Progress,
                 transcribe: Callable[..., Awaitable] | None = None,
                 analyse: Callable[[np.ndarray, np.ndarray], asyncio.Future] | None = None,
                 prepare: Callable[[str], None] | None = None,
                 expecting: Callable[[], Expectation | None] | None = None,
                 smart_turn: Callable[[np.ndarray], Awaitable[float]] | None = None, **kw):
        super().__init__(**kw)
        self._detector = TurnDetector(config)
        self._transcribe = transcribe if config.pause_ms else None
        self._analyse = analyse
        self._prepare = prepare
        self._expecting = expecting or (lambda: None)
        self._smart_turn = smart_turn if config.smart_turn_ms else None
        self._spec: Speculation | None = None
        self.speculations_dropped = 0
        self._dropped_this_turn = 0  # transcriptions wasted on this turn's pauses (the stages trace)
        self._config = config
        self._quiet_since: float | None = None
        self._clock = clock
        self._playout = playout
        self._progress = progress
        self._barge_in = False
        # (media t, monotonic s) of recent frames as they were looked at: when the caller's last
        # voiced frame reached us on the host's clock, which a bench at the wire shares.
        self._seen: deque[tuple[float, float]] = deque(maxlen=(config.silence_ms + 400) // FRAME_MS)

    @property
    def in_turn(self) -> bool:
        return self._detector.speaking

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            t = frame.metadata.get("t", self._clock.now)
            self._seen.append((t, time.monotonic()))
            samples = np.frombuffer(frame.audio, dtype=np.int16)
            for ev in self._detector.feed(samples, t):
                await self._emit(ev)
            self._ask_the_voice()
            await self._end_if_finished()
            await self._check_no_input(t)
            self._progress.note(seen=1)
            return
        if isinstance(frame, EndFrame):
            for ev in self._detector.flush():
                await self._emit(ev)
        if isinstance(frame, (InputDTMFFrame, CallerKeyPressedFrame)):
            self._quiet_since = None  # keying a number is not silence: "Are you still there?" waits
        await self.push_frame(frame, direction)

    async def _check_no_input(self, t: float) -> None:
        """The caller has said nothing for `no_input_ms` since the bot finished: a silent turn."""
        limit = self._config.no_input_ms / 1000
        if limit <= 0 or self._detector.pending or self._progress.owed > 0:
            self._quiet_since = None
            return
        if self._playout.playing_until() > t:
            self._quiet_since = None
            return
        if self._quiet_since is None:
            self._quiet_since = t
        elif t - self._quiet_since >= limit:
            self._quiet_since = None
            self._progress.note(owed=1)
            await self.push_frame(CallerTurnFrame(index=-1, no_input=True, detected_at=self._clock.now))

    def _seen_at(self, t_end: float) -> float | None:
        """Monotonic time the frame ending at media `t_end` was looked at (None: too long ago)."""
        for t, mono in self._seen:
            if t + FRAME_MS / 1000 >= t_end - 1e-6:
                return round(mono, 4)
        return None

    def _speculate(self, ev: TurnPaused) -> None:
        self._drop_speculation()
        expecting = self._expecting()
        self._progress.note(owed=1)  # a simulated clock waits for it: the same decisions as live
        # What the bot waits for goes with the audio: a number answer that does not read as one
        # is read again for digits only (voice.digit_reading).
        task = asyncio.ensure_future(self._transcribe(ev.audio, prompt_for(expecting), expecting,
                                                      end=self._end_wanted(ev.pause_id, expecting)))
        task.add_done_callback(lambda _t: self._progress.note(owed=-1))
        follow = asyncio.ensure_future(self._after_transcript(task, ev)) if self._analyse or self._prepare else None
        self._spec = Speculation(ev.pause_id, task, follow, expecting)
        if expecting is not None and expecting.digits:
            # A number may still be coming: do not let the no-evidence fallback end the turn
            # while Whisper reads the pause; its transcript sets the real limit.
            self._detector.hold(ev.pause_id, self._config.end.pending_ms)

    def _end_wanted(self, pause_id: int, expecting: Expectation | None) -> Callable[[str], bool]:
        """Asked in the ASR worker once the pause's words are read: will `_end_if_finished` read
        their P(stop)? Only while this pause is the live one, undecided (not dropped, the turn not
        ended at the long silence) and the rule consults it for such text."""
        rule = self._config.end

        def wanted(text: str) -> bool:
            spec = self._spec  # one attribute read from another thread: the worst case is one reading unread
            return (spec is not None and spec.pause_id == pause_id and spec.wait is None
                    and rule.reads_stop(text, expecting))

        return wanted

    def _ask_the_voice(self) -> None:
        """At `smart_turn_ms` of silence, Smart Turn hears the turn so far, silence included."""
        spec = self._spec
        if (self._smart_turn is None or spec is None or spec.voice is not None
                or self._detector.silence_ms != self._config.smart_turn_ms):
            return
        self._progress.note(owed=1)
        spec.voice = asyncio.ensure_future(self._smart_turn(self._detector.recent_audio(WINDOW_S)))
        spec.voice.add_done_callback(lambda _t: self._progress.note(owed=-1))

    async def _after_transcript(self, asr: asyncio.Task, ev: TurnPaused):
        """Once the transcription is done (not beside it: on two cores that would slow Whisper,
        whose result the end of turn waits for), the NLU's and the prosody's work on the same
        turn; both land before the end-of-turn floor. Returns the prosody."""
        await asyncio.wait([asr])
        loop = asyncio.get_running_loop()
        if self._prepare is not None and not asr.cancelled() and asr.exception() is None:
            ahead = loop.run_in_executor(None, self._prepare, asr.result().text)
            ahead.add_done_callback(_ignore_outcome)  # only a head start: analyse redoes what failed
        return await self._analyse(ev.audio, ev.voiced) if self._analyse is not None else None

    def _drop_speculation(self) -> None:
        if self._spec is not None:
            if not self._spec.task.done():
                self._spec.task.cancel()  # the model run itself finishes in its worker; its result is ignored
            if self._spec.follow is not None:
                self._spec.follow.cancel()
            if self._spec.voice is not None:
                self._spec.voice.cancel()
            self._spec = None
            self.speculations_dropped += 1
            self._dropped_this_turn += 1

    async def _end_if_finished(self) -> None:
        """The pause's evidence is in: set the silence that ends the turn (once per pause), and
        end it when reached (voice.endpointing.EndOfTurnRule: the text, and what the bot is
        waiting for). With Smart Turn on, a transcript that reads finished also waits for the
        voice's reading, asked at `smart_turn_ms`."""
        spec = self._spec
        if spec is None or not spec.task.done() or spec.task.cancelled() or spec.task.exception() is not None:
            return
        if spec.wait is None:
            heard = spec.task.result()
            text = heard.text
            voice = None
            if self._smart_turn is not None and transcript_complete(text) and not answer_pending(text, spec.expecting):
                if spec.voice is None or not spec.voice.done():
                    return  # asked at smart_turn_ms, back before the floor
                if not spec.voice.cancelled() and spec.voice.exception() is None:
                    voice = spec.voice.result()
            spec.wait = self._config.end.silence_ms(TurnEvidence(text, voice, spec.expecting, whisper_stop=heard.stop_p,
                                                                   avg_logprob=heard.avg_logprob))
            self._detector.hold(spec.pause_id, spec.wait)
        if self._detector.silence_ms < spec.wait:
            return
        ev = self._detector.end_now(spec.pause_id)
        if ev is not None:
            await self._emit(ev)

    async def _emit(self, ev: SpeechStarted | TurnPaused | TurnResumed | TurnEnded) -> None:
        if isinstance(ev, TurnPaused):
            if self._transcribe is not None:
                self._speculate(ev)
            return
        if isinstance(ev, TurnResumed):
            self._drop_speculation()
            return
        if isinstance(ev, SpeechStarted):
            # The bot is talking if its queued audio runs past the moment speech was confirmed.
            self._barge_in = self._playout.playing_until() > ev.confirmed + 1e-6
            self._progress.note(owed=1)
            if self._barge_in:
                await self.push_frame(InterruptionFrame())
            await self.push_frame(CallerSpeechStartedFrame(onset=ev.onset, confirmed=ev.confirmed, barge_in=self._barge_in))
        else:
            self._progress.note(owed=1)
            frame = CallerTurnFrame(
                index=ev.index,
                start=ev.start,
                end=ev.end,
                audio=ev.audio,
                voiced=ev.voiced,
                barge_in=self._barge_in,
                detected_at=self._clock.now,
            )
            frame.mono = {"end_seen": self._seen_at(ev.end), "detected": round(time.monotonic(), 4)}
            frame.asr_dropped = self._dropped_this_turn
            self._dropped_this_turn = 0
            if self._spec is not None:  # no speech since that pause: its audio is this turn's
                frame.speculative = True
                frame.asr_task = self._spec.task
                if self._spec.follow is not None and self._analyse is not None:
                    frame.prosody_future = self._spec.follow
                self._spec = None
            await self.push_frame(frame)
            self._barge_in = False


def _ignore_outcome(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


class ProsodyProcessor(FrameProcessor):
    """Starts prosody analysis of each turn beside ASR (it costs 10-20 ms; ASR ~150 ms), unless
    turn-taking already started it at the pause the turn ended on (`analyse`).

    The result is attached to the turn as a future that the bot's turn awaits, so prosody never
    adds to the caller's wait.
    """

    def __init__(self, rate: int = 16000, **kw):
        super().__init__(**kw)
        self._rate = rate

    def analyse(self, audio: np.ndarray, voiced: np.ndarray) -> asyncio.Future:
        return asyncio.get_running_loop().run_in_executor(None, prosody_mod.extract, audio, self._rate, voiced)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, CallerTurnFrame) and not frame.keypad and frame.prosody_future is None:
            frame.prosody_future = self.analyse(frame.audio, frame.voiced)
        await self.push_frame(frame, direction)


@dataclass
class Reply:
    text: str
    end_call: bool = False
    outcome: Outcome | None = None  # how the call ends, when end_call: bot_resolved, transferred, abandoned
    # Keys the responder adds to the turn's (or the silence's) event: intent, frustration, signals...
    turn_fields: dict = field(default_factory=dict)
    events: list[CallEvent] = field(default_factory=list)  # events after the turn (decision, summary)


class Responder(Protocol):
    """The bot's judgement: the triage dialog and the escalation policy plug in here.

    It may also have `prepare(text)`, called in a thread with the transcript of a pause that may
    end the turn, to do its heavy, side-effect-free work ahead (TriageResponder embeds the text)."""

    def greeting(self) -> Reply: ...

    def on_turn(self, turn: CallerTurnFrame) -> Reply | None:
        """A caller turn (text and prosody), or a silence (`turn.no_input`)."""

    def on_dtmf(self, digit: str) -> Reply | None: ...


class BotTurnProcessor(FrameProcessor):
    """Transcribed turns in; the bot's reply out as BotReplyStart, TTSSpeak, BotReplyEnd."""

    def __init__(self, responder: Responder, on_event: EventSink, progress: Progress, **kw):
        super().__init__(**kw)
        self._responder = responder
        self._emit = on_event
        self._progress = progress
        self._reply_id = 0
        self._voice = CallerVoice()  # how agitated this caller sounds: from the first turn, then against their own norm

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            # The greeting was owed from the moment the call was set up (see VoiceCall), so a
            # simulated clock cannot run ahead of it however slowly the pipeline starts.
            await self._speak(self._responder.greeting(), owed=False)
            return
        if isinstance(frame, CallerTurnFrame):
            fut, frame.prosody_future = frame.prosody_future, None
            if fut is not None:
                p = prosody_mod.with_transcript(await fut, frame.text or "")
                frame.prosody = self._voice.judge(p).to_dict()
            reply = None
            t0 = time.perf_counter()
            if frame.no_input:
                reply = self._responder.on_turn(frame)
                self._emit(NoInputEvent.from_json({"at": round(frame.detected_at, 2),
                                                   **(reply.turn_fields if reply is not None else {})}))
            elif frame.text:
                reply = self._responder.on_turn(frame)
            nlu_seconds = time.perf_counter() - t0
            if frame.text and not frame.no_input:
                # The responder's fields may override the transcript (a masked PIN): merged as a dict.
                fields = {"index": frame.index, "start": round(frame.start, 2), "end": round(frame.end, 2),
                          "text": frame.text, "prosody": frame.prosody}
                self._emit(TurnEvent.from_json({**fields, **(reply.turn_fields if reply is not None else {})}))
                await self.push_frame(frame)
            if reply is not None:
                await self._answer(reply, frame, nlu_seconds)
            # The turn is answered once its reply (if any) is queued behind it.
            await self.push_frame(_TurnDoneFrame(index=frame.index))
            return
        if isinstance(frame, InputDTMFFrame):
            # A system frame, so it keeps its place among the audio frames upstream; here it
            # goes behind the turns already queued (a data frame), as a key pressed after them.
            await self.queue_frame(_KeyInTurnOrder(digit=frame.button.value))
            return
        if isinstance(frame, _KeyInTurnOrder):
            self._emit(DtmfEvent(digit=frame.digit))
            reply = self._responder.on_dtmf(frame.digit)
            if reply is not None:
                # A key press the bot answers cuts it short: the TTS stops, then the output.
                self._progress.note(owed=1)
                await self.push_frame(InterruptionFrame())
                await self.push_frame(CallerKeyPressedFrame(cut_in=True))
                await self._answer(reply)
            return
        await self.push_frame(frame, direction)

    async def _answer(self, reply: Reply, turn: CallerTurnFrame | None = None, nlu_seconds: float | None = None) -> None:
        for ev in reply.events:
            self._emit(ev)
        await self._speak(reply, turn=turn, nlu_seconds=nlu_seconds)

    async def _speak(self, reply: Reply, owed: bool = True, turn: CallerTurnFrame | None = None,
                     nlu_seconds: float | None = None) -> None:
        rid = self._reply_id
        self._reply_id += 1
        if owed:
            self._progress.note(owed=1)  # settled once its end reaches the output
        await self.push_frame(BotReplyStartFrame(reply_id=rid, text=reply.text, turn=turn, nlu_seconds=nlu_seconds))
        await self.push_frame(TTSSpeakFrame(reply.text))
        await self.push_frame(BotReplyEndFrame(reply_id=rid, end_call=reply.end_call, outcome=reply.outcome))


@dataclass
class _TurnDoneFrame(BotReplyEndFrame):
    index: int = 0


@dataclass
class _KeyInTurnOrder(DataFrame):
    """A caller's key inside the bot's turn processor, queued behind the turns before it."""

    digit: str = ""
    interruptible: bool = field(default=False, init=False)


@dataclass
class _ReplyLog:
    reply_id: int
    text: str
    start: float | None = None
    end: float | None = None
    interrupted: bool = False
    done: bool = False  # all its audio has arrived
    reported: bool = False
    end_call: bool = False
    turn: CallerTurnFrame | None = None
    nlu_seconds: float | None = None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def stages_event(turn: CallerTurnFrame, nlu_seconds: float | None, tts_first_seconds: float | None,
                 audio_at: float) -> StagesEvent:
    """Where one reply's wait went, from the pipeline's own trace (media time where it is a wait
    on the caller's clock, wall time where it is compute). tts_first_ms is 0 for a cached prompt."""
    return StagesEvent(
        turn=turn.index,
        end_of_turn_ms=_ms(turn.detected_at - turn.end),  # last voiced frame → end of turn declared
        asr_ms=_ms(turn.asr_seconds),
        asr_speculative=turn.speculative,
        asr_window=turn.asr_window,
        asr_dropped=turn.asr_dropped,  # transcriptions of pauses the caller spoke on from
        nlu_ms=_ms(nlu_seconds),
        tts_first_chunk_ms=_ms(tts_first_seconds if tts_first_seconds is not None else 0.0),
        speech_end_to_audio_ms=_ms(audio_at - turn.end),  # media time, inside the service
        # The same moments on the host's monotonic clock (seconds), with the first audio handed to
        # the transport, so a bench on this host can place them between its own wire times.
        mono={**turn.mono, "audio_queued": round(time.monotonic(), 4)},
    )


class CallOutputProcessor(FrameProcessor):
    """Before the transport's output: keeps the account of the bot's audio on the media clock
    (`playout`, a `BotSchedule`) and reports replies; the audio goes on to the transport, which
    plays it. Audio of a reply the caller cut short goes no further.

    A reply is reported (the "bot" event) once it is known whether it was interrupted: when the
    caller barges in, when the next reply or turn shows it finished, or when the call ends.
    """

    def __init__(
        self,
        clock: MediaClock,
        playout: Playout,
        progress: Progress,
        on_event: EventSink,
        on_hangup: Callable[[], None] | None = None,
        **kw,
    ):
        super().__init__(**kw)
        self._clock = clock
        self._playout = playout
        self._progress = progress
        self._emit = on_event
        self._on_hangup = on_hangup
        self._replies: list[_ReplyLog] = []
        self._current: _ReplyLog | None = None
        self.barge_in_latencies: list[float] = []
        self.reply_latencies: list[float] = []  # end of caller speech → first bot audio, media s
        self.asr_seconds: list[float] = []  # wall seconds Whisper took per turn
        self._last_turn_end: float | None = None
        self.outcome: Outcome | None = None  # set by the reply that ends the call

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, OutputAudioRawFrame):
            if self._schedule(frame):
                await self.push_frame(frame, direction)
            return  # else: audio of a reply the caller already talked over
        self._account(frame)
        # The rest goes on: an interruption flushes the transport; a reply's end follows its audio
        # out of the transport (voice.call hands a transfer over there).
        await self.push_frame(frame, direction)

    def _schedule(self, frame: OutputAudioRawFrame) -> bool:
        """Puts the audio on the schedule; False for audio that must not play."""
        cur = self._current
        if cur is None or cur.interrupted:
            return False
        pcm = np.frombuffer(frame.audio, dtype=np.int16)
        if frame.sample_rate != self._playout.rate:
            from voice.audio import resample

            pcm = resample(pcm, frame.sample_rate, self._playout.rate)
        start = self._playout.play(pcm)
        if cur.start is None:
            cur.start = start
            if self._last_turn_end is not None:
                self.reply_latencies.append(start - self._last_turn_end)
                self._last_turn_end = None
            if cur.turn is not None and not cur.turn.no_input:
                self._emit(stages_event(cur.turn, cur.nlu_seconds, frame.metadata.get("tts_first_seconds"), start))
        cur.end = self._playout.playing_until()
        self._progress.note(audio_out=len(pcm))  # a FileCall counts it off (live: nobody waits on it)
        return True

    def _account(self, frame: Frame) -> None:
        if isinstance(frame, CallerSpeechStartedFrame):
            if frame.barge_in:
                self._barge_in(frame)
            else:
                self._report_finished()
            self._progress.note(owed=-1)
        elif isinstance(frame, _TurnDoneFrame):
            self._progress.note(owed=-1)
        elif isinstance(frame, CallerKeyPressedFrame):
            if frame.cut_in:
                self._cut_short()
                self._progress.note(owed=-1)
        elif isinstance(frame, BotReplyStartFrame):
            self._report_finished()
            self._current = _ReplyLog(frame.reply_id, frame.text)
            self._current.turn = frame.turn
            self._current.nlu_seconds = frame.nlu_seconds
            self._replies.append(self._current)
        elif isinstance(frame, BotReplyEndFrame):
            self._progress.note(owed=-1)
            cur = self._current
            if cur is not None and cur.reply_id == frame.reply_id:
                cur.done = True
                cur.end_call = frame.end_call
                if frame.end_call:
                    self.outcome = frame.outcome
                    if self._on_hangup is not None:
                        self._on_hangup()
        elif isinstance(frame, CallerTurnFrame):
            self._last_turn_end = frame.end
            if frame.asr_seconds is not None:
                self.asr_seconds.append(frame.asr_seconds)
            self._report_finished()
        elif isinstance(frame, (EndFrame, CancelFrame)):
            self.finish()

    def _barge_in(self, frame: CallerSpeechStartedFrame) -> None:
        self._cut_short()
        self.barge_in_latencies.append(self._clock.now - frame.onset)

    def _cut_short(self) -> None:
        """The caller took the floor (spoke or keyed over the bot): stop the reply where it is."""
        now = self._clock.now
        self._playout.stop()
        for r in self._replies:
            if r.reported:
                continue
            if r.start is None or r.end is None or r.end > now:
                r.interrupted = True
                if r.start is not None:
                    r.end = max(r.start, now)
        self._report_finished(force=True)

    def _report_finished(self, force: bool = False) -> None:
        for r in self._replies:
            if r.reported:
                continue
            finished = r.interrupted or (r.done and r.end is not None and r.end <= self._clock.now)
            if not (finished or force):
                continue
            if not r.done and not r.interrupted:
                continue
            r.reported = True
            self._emit(BotEvent(start=round(r.start, 2) if r.start is not None else None, text=r.text,
                                interrupted=r.interrupted))

    def finish(self) -> None:
        """End of call: every reply not yet reported is reported as it stands."""
        for r in self._replies:
            if not r.reported and r.end is not None and r.end > self._clock.now and not r.done:
                r.interrupted = True
        for r in self._replies:
            r.done = True
        self._report_finished(force=True)
