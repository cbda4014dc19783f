"""Keypad entry: the digits a caller keys in for a number the bot asked for, as one caller turn.

Modelled on pipecat's ``DTMFAggregator`` (pipecat/processors/aggregators/dtmf_aggregator.py),
with three differences a phone line needs:

- It collects only while the bot expects a number (``responder.expecting()`` has ``keypad``);
  otherwise every key passes through unchanged, so 0 still reaches the policy's "press 0 for a
  person" rule. While an entry is in progress every key belongs to it: **0 is a digit** there
  (but 0 alone, then ``#`` or a pause, is still "a person, please"),
  ``#`` ends the entry, ``*`` starts it over. A ``#`` just after an entry that ended at its digit
  count ("45678#", as callers are used to typing) belongs to that entry too.
- Where the bot offered keys as choices ("press 1 for yes, 2 for no"; the menu before a hand-over
  for turns not understood), one of those keys is the whole answer at once.
- The entry ends at ``#``, when the expected digit count is reached, or after ``timeout_s`` with
  no key, measured on the call's media clock (the audio frames' ``metadata["t"]``), not with a
  wall-clock timer: ``ivr simulate --fast`` runs the same entry to the same end, faster.
- It emits a ``CallerTurnFrame`` with ``keypad=True`` and the digits as its ``text``, so ASR and
  prosody leave it alone and the dialog takes it as the slot value (not a TranscriptionFrame
  "DTMF: 123" for an LLM to read).

The aggregation is ``KeypadEntry``, pure (keys and media times in, a finished entry out); the
processor only dispatches frames to it. Its place is the head of the pipeline, where the audio
frames (the clock) still pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pipecat.audio.dtmf.types import KeypadEntry as Key
from pipecat.frames.frames import EndFrame, Frame, InputAudioRawFrame, InputDTMFFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipecat.frames.frames import InterruptionFrame

from calls.expectation import Expectation

from voice.frames import CallerKeyPressedFrame, CallerTurnFrame
from voice.processors import Progress

END_KEY = "#"
RESTART_KEY = "*"
PERSON_KEY = "0"  # alone, it asks for a person even while a number is being keyed
DEFAULT_TIMEOUT_S = 3.0  # pipecat's default is 2 s; callers reading a number off a letter pause longer


@dataclass(frozen=True)
class KeypadTurn:
    """A finished keypad entry."""

    digits: str
    start: float  # media seconds of the first key
    end: float  # media seconds of the key (or the silence) that ended it
    why: str  # "end_key", "complete", "timeout", "call_ended" or "choice" (one key of a menu)


class KeypadEntry:
    """Collects keys into one entry while the bot expects a number. Pure: no frames, no clock."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.timeout_s = timeout_s
        self._digits = ""
        self._start: float | None = None
        self._last = 0.0
        self._want = 0  # digits that complete the entry (0: only # or the timeout end it)
        self._completed_at: float | None = None  # an entry ended at its digit count: a "#" may follow

    @property
    def active(self) -> bool:
        return self._start is not None

    def takes(self, key: str, t: float, expectation: Expectation | None) -> bool:
        """Is ``key`` (at media time ``t``) part of an entry? Every key is while one is in
        progress; a digit starts one only when the bot expects a number on the keypad; the "#"
        that follows a completed entry closes it. Anything else passes through."""
        if self.active:
            return True
        if key == END_KEY and self._completed_at is not None and t - self._completed_at <= self.timeout_s:
            return True
        if expectation is not None and expectation.choices:
            return key in expectation.choices  # a menu: 0 (a person) and the rest pass through
        return expectation is not None and expectation.keypad and key.isdigit()

    def press(self, key: str, t: float, expectation: Expectation | None) -> KeypadTurn | None:
        """A key ``takes`` accepted, at media time ``t``; the entry if this key finished it."""
        if not self.active and key == END_KEY:
            self._completed_at = None  # the "#" after a completed entry: nothing more to do
            return None
        self._completed_at = None
        if not self.active and expectation is not None and key in expectation.choices:
            return KeypadTurn(key, t, t, "choice")  # one key is the whole answer
        if not self.active:
            self._start = t
            self._want = expectation.max_digits if expectation is not None else 0
        self._last = t
        if key == END_KEY:
            return self._finish(t, "end_key")
        if key == RESTART_KEY:
            self._digits = ""
        elif key.isdigit():
            self._digits += key
            if self._want and len(self._digits) >= self._want:
                self._completed_at = t
                return self._finish(t, "complete")
        return None  # A-D: not part of a number

    def tick(self, t: float) -> KeypadTurn | None:
        """Media time has reached ``t``: the entry if no key came for ``timeout_s``."""
        if self.active and t - self._last >= self.timeout_s:
            return self._finish(t, "timeout")
        return None

    def flush(self, t: float) -> KeypadTurn | None:
        """The call is ending: whatever was keyed."""
        return self._finish(t, "call_ended") if self.active else None

    def _finish(self, t: float, why: str) -> KeypadTurn | None:
        digits, start = self._digits, self._start
        self._digits, self._start, self._want = "", None, 0
        if not digits or start is None:
            return None  # "#" or "*" alone, or a restarted entry left empty
        return KeypadTurn(digits, start, t, why)


class DtmfEntryProcessor(FrameProcessor):
    """InputDTMFFrame in; while a number is expected, one keypad CallerTurnFrame out per entry.

    ``expecting`` is the responder's (None: nothing is ever expected, keys all pass through).
    A finished entry is work owed to the caller (``Progress``): the bot's turn settles it.

    Every key taken goes on as a digitless ``CallerKeyPressedFrame`` (turn-taking's no-input timer
    restarts on it). The key that starts an entry while the bot is talking (``playing``) cuts the
    bot short, as pipecat's aggregator interrupts on the first digit: an ``InterruptionFrame``
    (the TTS stops), then the key frame with ``cut_in`` (the output stops the playout).
    """

    def __init__(self, expecting: Callable[[], Expectation | None] | None, progress: Progress,
                 timeout_s: float = DEFAULT_TIMEOUT_S, playing: Callable[[], bool] | None = None, **kw):
        super().__init__(**kw)
        self._expecting = expecting or (lambda: None)
        self._playing = playing or (lambda: False)
        self._progress = progress
        self._entry = KeypadEntry(timeout_s)
        self._now = 0.0  # media seconds: the end of the last audio frame seen
        self._entries = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._now = _frame_end(frame, self._now)
            await self._emit(self._entry.tick(self._now))
        elif isinstance(frame, InputDTMFFrame) and self._entry.takes(frame.button.value, self._now, self._expecting()):
            digit = frame.button.value
            cut_in = not self._entry.active and digit.isdigit() and self._playing()
            if cut_in:
                self._progress.note(owed=1)  # settled when the output has stopped the reply
                await self.push_frame(InterruptionFrame())
            await self.push_frame(CallerKeyPressedFrame(cut_in=cut_in))
            await self._emit(self._entry.press(digit, self._now, self._expecting()))
            return  # part of the entry: the key itself goes no further
        elif isinstance(frame, EndFrame):
            await self._emit(self._entry.flush(self._now))
        await self.push_frame(frame, direction)

    async def _emit(self, turn: KeypadTurn | None) -> None:
        if turn is None:
            return
        if turn.digits == PERSON_KEY and turn.why in ("end_key", "timeout"):
            # 0 alone, then "#" or nothing: no number is a lone 0, so it is the caller pressing 0
            # for a person, which every prompt still honours.
            await self.push_frame(InputDTMFFrame(button=Key(PERSON_KEY)))
            return
        self._progress.note(owed=1)  # settled when the bot's turn has answered it
        frame = CallerTurnFrame(index=self._entries, start=turn.start, end=turn.end, text=turn.digits, keypad=True,
                                keypad_end=turn.why, detected_at=self._now)
        self._entries += 1
        await self.push_frame(frame)


def _frame_end(frame: InputAudioRawFrame, fallback: float) -> float:
    t = frame.metadata.get("t")
    if t is None:
        return fallback
    return t + len(frame.audio) / 2 / (frame.sample_rate * max(1, frame.num_channels))
