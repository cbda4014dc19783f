"""Frames this project adds to pipecat's, for what pipecat has no frame for: a whole caller turn
(its audio, timing and prosody travel together to ASR and the dialog) and the bounds of a bot reply
(so the call's output knows which audio belongs to which reply, and when a reply is over).

Where pipecat has the frame, the pipeline uses it: the caller's keys are `InputDTMFFrame`s
(`voice.sip_transport.keypad_entry` reads a digit as one), speech onset is a `UserStartedSpeakingFrame`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
from pipecat.frames.frames import DataFrame, SystemFrame, UserStartedSpeakingFrame

from calls.outcome import Outcome


@dataclass
class CallerTurnFrame(DataFrame):
    """One caller turn, from end-of-turn detection on; filled in as it moves down the pipeline."""

    index: int = 0
    start: float = 0.0  # media seconds
    end: float = 0.0
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16), repr=False)
    voiced: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    barge_in: bool = False  # the caller started this turn while the bot was talking
    no_input: bool = False  # not speech: the caller stayed silent past the no-input timeout
    keypad: bool = False  # not speech: digits keyed in (voice.dtmf_entry), `text` already set, no ASR
    keypad_end: str | None = None  # what ended a keyed entry: "end_key", "timeout", ... (voice.dtmf_entry)
    prosody: dict | None = None
    text: str | None = None
    asr_seconds: float | None = None
    asr_window: str | None = None  # "fitted", "fitted 15 s (why)" or "standard (why)": voice.whisper_window
    speculative: bool = False  # transcribed at a pause, before the end of the turn was declared
    detected_at: float = 0.0  # media seconds when end of turn was decided
    # Work started for this turn before it reached its stage, taken (set back to None) there:
    # the transcription of the pause it ended on (STT awaits it instead of transcribing again)
    # and its prosody analysis (the bot's turn awaits it).
    asr_task: asyncio.Future | None = field(default=None, repr=False)
    prosody_future: asyncio.Future | None = field(default=None, repr=False)
    asr_dropped: int | None = None  # transcriptions of this turn's pauses the caller spoke on from
    # When the caller's last voiced frame was looked at and when the turn was declared, on the
    # host's monotonic clock (seconds): the stages event carries them to a bench on this host.
    mono: dict[str, float | None] = field(default_factory=dict)
    interruptible: bool = field(default=False, init=False)  # a barge-in must never drop a turn


@dataclass
class BotReplyStartFrame(DataFrame):
    reply_id: int = 0
    text: str = ""
    turn: "CallerTurnFrame | None" = field(default=None, repr=False)  # the caller turn it answers
    nlu_seconds: float | None = None  # wall time the bot took to decide what to say
    interruptible: bool = field(default=False, init=False)


@dataclass
class BotReplyEndFrame(DataFrame):
    """Follows a reply's audio; `end_call` hangs up once that audio has played."""

    reply_id: int = 0
    end_call: bool = False
    outcome: Outcome | None = None  # how the call ends, with end_call
    interruptible: bool = field(default=False, init=False)


@dataclass
class CallerSpeechStartedFrame(UserStartedSpeakingFrame):
    """Speech onset confirmed; `barge_in` when the bot was talking at that moment.

    pipecat's `UserStartedSpeakingFrame`, so any stock processor that reacts to the user starting
    a turn sees it; the media times and the barge-in flag are what the call's output needs to
    cut the bot's reply where the caller came in and to measure how fast it stopped.
    """

    onset: float = 0.0
    confirmed: float = 0.0
    barge_in: bool = False


@dataclass
class CallerKeyPressedFrame(SystemFrame):
    """A key the caller pressed that was taken (a keypad entry's, or one the bot answered), without
    the digit, which may be part of a PIN: turn-taking restarts its no-input timer on it, and with
    `cut_in` (the bot was talking) the call's output stops the bot's reply, as a barge-in does."""

    cut_in: bool = False

