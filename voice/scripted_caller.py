"""A reactive caller on the live-call pipeline: it waits for the bot, then answers what it asked.

`ivr simulate` plays a fixed recording, which cannot answer "What's your order number?". This
driver runs the same `VoiceCall` and SIP transport, through a `FileCall`, on the same simulated clock (`fast`: every frame waits for all
the work it caused, so the decisions are those of a live call), and between the bot's replies
asks a `Caller` what to say next. It records when each line was fed, to the frame, so a
metric can tell whether the bot ended a turn, or spoke, while that line still had audio to come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from calls.events import CallEvent, EndEvent
from calls.outcome import Outcome
from telephony import g711
from voice.audio import FRAME_MS, TELEPHONE_RATE
from voice.playout import BotSchedule, MediaClock

if TYPE_CHECKING:  # pipecat loads only when a call runs: the data types here stay light to import
    from voice.call import VoiceConfig

FRAME = TELEPHONE_RATE * FRAME_MS // 1000
DTMF_GAP_S = 0.3  # between key presses


@dataclass(frozen=True)
class Utterance:
    """One thing the caller does: a line of audio (8 kHz, band-limited, no noise) or key presses."""

    key: str
    pcm8k: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16), repr=False)
    sounds: tuple[tuple[float, float], ...] = ()  # speech and fillers, seconds from its start
    dtmf: str = ""  # keys to press instead (e.g. "45678#")


@dataclass(frozen=True)
class FedLine:
    """An utterance as it was fed, in media seconds of the call."""

    index: int
    key: str
    start: float
    end: float
    sounds: tuple[tuple[float, float], ...]
    dtmf: str = ""

    @property
    def speech_start(self) -> float:
        return self.sounds[0][0] if self.sounds else self.start

    @property
    def speech_end(self) -> float:
        return self.sounds[-1][1] if self.sounds else self.end


class Caller(Protocol):
    def first(self) -> Utterance | None:
        """What to say once the greeting is over (None: hang up)."""

    def reply(self, bot_text: str) -> Utterance | None:
        """What to say to the bot's last reply; an Utterance with key "wait" says nothing."""


class NoiseFeed(Protocol):
    continuous: bool

    def take(self, n: int) -> np.ndarray: ...


@dataclass
class ScriptedCallResult:
    events: list[CallEvent]
    lines: list[FedLine]
    bot_audio: list[tuple[float, float]]  # (start, end) of each chunk of bot audio played
    bot_texts: list[str]
    outcome: Outcome | str
    duration: float
    ended_by: str  # "bot", "caller", "turn_cap", "time_cap", "no_reply"


class _LoggingPlayout(BotSchedule):
    """The call's schedule of bot audio, keeping when each chunk played (cut short on barge-in)."""

    def __init__(self, clock: MediaClock, rate: int):
        super().__init__(clock, rate)
        self.spans: list[list[float]] = []

    def play(self, pcm: np.ndarray) -> float:
        start = super().play(pcm)
        self.spans.append([start, start + len(pcm) / self.rate])
        return start

    def stop(self) -> None:
        super().stop()
        now = self.clock.now
        self.spans = [[s, min(e, now)] for s, e in self.spans if s < now]


class _RecordingResponder:
    """The bot as it is, noting the text of every reply at the moment it is decided."""

    def __init__(self, inner):
        self._inner = inner
        self.texts: list[str] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _note(self, reply):
        if reply is not None and reply.text:
            self.texts.append(reply.text)
        return reply

    def greeting(self):
        return self._note(self._inner.greeting())

    def on_turn(self, turn):
        return self._note(self._inner.on_turn(turn))

    def on_dtmf(self, digit):
        return self._note(self._inner.on_dtmf(digit))


async def run_call(models, prompts, responder, caller: Caller, *, noise: NoiseFeed | None = None,
                   gap: Callable[[], float] = lambda: 0.5, max_lines: int = 12, max_seconds: float = 150.0,
                   reply_timeout: float = 20.0, config: "VoiceConfig | None" = None,
                   on_event: Callable[[CallEvent], None] | None = None) -> ScriptedCallResult:
    """One call: the greeting, then the caller's lines, each `gap()` s after the bot went quiet."""
    from voice.call import VoiceCall, VoiceConfig
    from voice.file_call import FileCall
    from voice.processors import Progress

    config = config or VoiceConfig()
    events: list[CallEvent] = []

    def emit(ev: CallEvent) -> None:
        events.append(ev)
        if on_event:
            on_event(ev)

    clock, progress = MediaClock(), Progress()
    playout = _LoggingPlayout(clock, config.out_rate)
    bot = _RecordingResponder(responder)
    lines: list[FedLine] = []
    audio = np.zeros(0, dtype=np.int16)  # what is left of the line being said
    keys: list[str] = []  # key presses left
    next_key_at = 0.0
    answered = 0  # bot replies the caller has answered (the greeting is the first)
    gap_until: float | None = None
    last_line_end = 0.0
    ended_by = "caller"

    async def next_frame() -> np.ndarray | None:
        """The caller's next 20 ms, on the settled media clock; None: the caller hangs up."""
        nonlocal audio, keys, next_key_at, answered, gap_until, last_line_end, ended_by
        if vc.bot_ended:
            await asyncio.Event().wait()  # the bot hung up: the line closes (the transport stops reading)
        while True:
            now = clock.now
            if now >= max_seconds:
                ended_by = "time_cap"
                return None
            if len(audio):
                frame, audio = audio[:FRAME], audio[FRAME:]
                if len(frame) < FRAME:
                    frame = np.concatenate([frame, np.zeros(FRAME - len(frame), dtype=np.int16)])
                in_line = True
            else:
                frame, in_line = np.zeros(FRAME, dtype=np.int16), False
                if keys:
                    if now >= next_key_at:
                        line.press(keys.pop(0))
                        next_key_at = now + DTMF_GAP_S
                elif not vc.hangup_requested.is_set():
                    quiet = progress.settled and playout.playing_until() <= now and not vc.turn_taking_busy
                    if len(bot.texts) > answered and quiet:
                        if gap_until is None:
                            gap_until = now + gap()
                        elif now >= gap_until:
                            gap_until = None
                            answered = len(bot.texts)
                            if len(lines) >= max_lines:
                                ended_by = "turn_cap"
                                return None
                            utt = caller.first() if not lines else caller.reply(bot.texts[-1])
                            if utt is None:
                                return None
                            if utt.key != "wait":
                                end = now + (len(utt.dtmf) * DTMF_GAP_S if utt.dtmf else len(utt.pcm8k) / TELEPHONE_RATE)
                                lines.append(FedLine(len(lines), utt.key, now, end,
                                                     tuple((now + a, now + b) for a, b in utt.sounds), utt.dtmf))
                                last_line_end = end
                                if utt.dtmf:
                                    keys, next_key_at = list(utt.dtmf), now
                                else:
                                    audio = utt.pcm8k
                                    continue  # its first frame now, not after this silent one
                    else:
                        gap_until = None
                    if now - max(last_line_end, playout.playing_until()) > reply_timeout:
                        ended_by = "no_reply"
                        return None
            x = frame.astype(float)
            if noise is not None and (noise.continuous or in_line):
                x = x + noise.take(FRAME)
            return g711.ulaw_decode(g711.ulaw_encode(np.clip(np.round(x), -32768, 32767).astype(np.int16)))

    line = FileCall(clock, progress, next_frame, rate=config.out_rate)
    vc = VoiceCall(models, prompts, bot, line, emit, config, clock=clock, progress=progress, schedule=playout,
                   hangup_grace_s=0.0)
    await vc.start()
    await vc.run()
    outcome = Outcome.CALLER_HUNG_UP
    if vc.bot_ended:
        outcome, ended_by = vc.outcome or Outcome.BOT_RESOLVED, "bot"
    duration = clock.now
    await vc.finish()
    emit(EndEvent(outcome=outcome))
    return ScriptedCallResult(events, lines, [(round(s, 3), round(e, 3)) for s, e in playout.spans], list(bot.texts),
                              outcome, duration, ended_by)
