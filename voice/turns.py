"""Turn-taking: where a caller's turn starts and ends, from webrtcvad over 20 ms frames.

A pure state machine (no I/O, no clock of its own): feed it frames with their media time and it
says when speech has really started (enough voiced audio to not be a click or a cough), when
the caller pauses (`pause_ms` of silence: the turn so far, for a speculative transcription),
when they resume, and when the turn has ended: at `silence_ms` of silence, earlier through
`end_now` when whoever judged the pause found the turn finished, or later when they `hold` it
open (a hesitation, a number still being read out: voice.endpointing). The same events drive
barge-in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import webrtcvad

from voice.audio import FRAME_MS, PIPELINE_RATE
from voice.endpointing import EndOfTurnRule
from voice.silero import SileroStream


@dataclass(frozen=True)
class TurnConfig:
    # Trailing silence that ends a turn when nothing better is known (no transcript of the pause
    # yet, or transcription off); what is known moves it either way (`end`).
    silence_ms: int = 800
    # Silence at which the turn so far is offered for transcription (0: never). Early enough that
    # one Whisper run (tiny.en, 170-260 ms on 2 cores) is back by `complete_ms`, so a finished turn
    # ends at that floor and not at the pause plus the run; at 200 ms a slower run pushed it past.
    # The cost is transcriptions dropped because the caller went on: 0.88 a turn on the recorded
    # clips of `ivr eval asr` (0.62 at 200 ms), each a worker's ~200 ms of CPU.
    pause_ms: int = 140
    # The silence each kind of evidence at a pause needs before the turn ends (voice.endpointing).
    end: EndOfTurnRule = field(default_factory=EndOfTurnRule)
    # Silence at which Smart Turn v3.2 is asked how finished the voice sounds (0: never, the
    # default). On telephone-band callers it does not tell a hesitation from a finished turn
    # (`ivr eval turns`: at every threshold it flags about as many real ends as pauses inside
    # turns), so it is off; 300 ms is where its reading is least bad (it needs silence in its
    # window) and is still back before the 400 ms floor.
    smart_turn_ms: int = 0
    min_speech_ms: int = 60  # voiced audio needed before a turn (or a barge-in) starts: a click is shorter
    # ...and Silero's P(speech) must reach this within the onset window (0: webrtcvad alone), so
    # steady line noise, which webrtcvad marks as voiced at first, starts no turn (voice.silero).
    onset_confirm: float = 0.5
    onset_window_ms: int = 200  # ...within this window after the first voiced frame
    # Silero's answer is read only while an onset is a candidate, so it does not run inside a
    # turn or on frames too quiet to start one (a quiet line while the bot talks); after frames it
    # skipped it starts afresh over the half second before. False: on every frame, as before. On
    # every frame it was a quarter of the event loop's time at 16 calls (README, "What bounds the
    # ceiling now").
    silero_on_candidates: bool = True
    preroll_ms: int = 200  # audio kept before the onset (Whisper hears the first phoneme)
    tail_ms: int = 200  # audio kept after the last voiced frame
    max_turn_ms: int = 30_000  # a monologue is cut into turns Whisper can take
    vad_mode: int = 3  # webrtcvad aggressiveness 0-3; 3 suits noisy phone lines
    energy_floor_dbfs: float = -50.0  # frames quieter than this are never speech
    no_input_ms: int = 8000  # silence after the bot finished that counts as "no input" (0: never)

    def __post_init__(self):
        if not 0 <= self.vad_mode <= 3:
            raise ValueError("vad_mode must be 0..3")
        for name in ("silence_ms", "min_speech_ms", "onset_window_ms"):
            if getattr(self, name) <= 0 or getattr(self, name) % FRAME_MS:
                raise ValueError(f"{name} must be a positive multiple of {FRAME_MS} ms")
        if self.min_speech_ms > self.onset_window_ms:
            raise ValueError("min_speech_ms must not exceed onset_window_ms")
        if self.pause_ms < 0 or self.pause_ms % FRAME_MS:
            raise ValueError(f"pause_ms must be 0 or a positive multiple of {FRAME_MS} ms")
        if self.smart_turn_ms < 0 or self.smart_turn_ms % FRAME_MS:
            raise ValueError(f"smart_turn_ms must be 0 or a positive multiple of {FRAME_MS} ms")


@dataclass(frozen=True)
class SpeechStarted:
    onset: float  # media seconds of the first voiced frame
    confirmed: float  # media seconds when enough speech had been heard


@dataclass
class TurnPaused:
    """The caller has been silent `pause_ms`: here is the turn so far (as `TurnEnded` would keep it)."""

    index: int
    pause_id: int
    end: float  # media seconds at the end of the last voiced frame
    audio: np.ndarray
    voiced: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per 20 ms frame of `audio`


@dataclass(frozen=True)
class TurnResumed:
    """Speech again after a pause: whatever was started on that pause's audio is stale."""

    index: int
    pause_id: int


@dataclass
class TurnEnded:
    index: int
    start: float  # media seconds of the first voiced frame
    end: float  # media seconds at the end of the last voiced frame
    audio: np.ndarray  # int16 at the pipeline rate, with pre-roll and tail
    voiced: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per 20 ms frame of `audio`


def frame_dbfs(frame: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) if len(frame) else 0.0
    return 20 * np.log10(max(rms, 1e-9) / 32768.0)


SILERO_CONTEXT_MS = 500


class TurnDetector:
    """Feed 20 ms int16 frames at 16 kHz; get SpeechStarted / TurnEnded events back."""

    def __init__(self, config: TurnConfig | None = None, rate: int = PIPELINE_RATE):
        self.config = c = config or TurnConfig()
        self.rate = rate
        self._vad = webrtcvad.Vad(c.vad_mode)
        self._silero = SileroStream() if c.onset_confirm > 0 else None
        self._cand_peak = 0.0  # Silero's highest P(speech) over the candidate onset
        # the last half second outside a turn: what Silero hears before a candidate's first frame
        self._heard: deque[np.ndarray] = deque(maxlen=SILERO_CONTEXT_MS // FRAME_MS)
        self._silero_stale = False  # frames went by unheard: the next one starts Silero afresh
        self._frame_len = rate * FRAME_MS // 1000
        self._pre: deque[tuple[np.ndarray, bool]] = deque(maxlen=max(1, c.preroll_ms // FRAME_MS))
        self._cand: list[tuple[np.ndarray, bool]] = []
        self._turn: list[tuple[np.ndarray, bool]] = []
        self._state = "idle"  # idle | candidate | speaking
        self._onset = 0.0
        self._last_voiced_end = 0.0
        self._silence_ms = 0
        self._turn_index = 0
        self._preroll_frames = 0
        self._pause_id = 0
        self._paused = False  # a TurnPaused is out and no voiced frame has come since
        self._hold_ms: int | None = None  # this pause's silence limit, from the evidence at it

    @property
    def speaking(self) -> bool:
        return self._state == "speaking"

    @property
    def pending(self) -> bool:
        """Speech has started (maybe not yet confirmed) and the turn has not ended."""
        return self._state != "idle"

    @property
    def silence_ms(self) -> int:
        """Trailing silence of the turn in progress."""
        return self._silence_ms if self._state == "speaking" else 0

    def hold(self, pause_id: int, ms: int) -> None:
        """End the turn at `ms` of silence in this pause instead of `silence_ms` (longer or shorter);
        forgotten as soon as the caller speaks again."""
        if self._state == "speaking" and self._paused and pause_id == self._pause_id:
            self._hold_ms = ms

    def recent_audio(self, seconds: float) -> np.ndarray:
        """The turn's last `seconds` of audio up to now, trailing silence included (Smart Turn's input)."""
        n = max(1, int(seconds * 1000 / FRAME_MS))
        return np.concatenate([f for f, _ in self._turn[-n:]]) if self._turn else np.zeros(0, dtype=np.int16)

    def end_now(self, pause_id: int) -> "TurnEnded | None":
        """End the turn at its current pause (the transcript of it reads as finished).

        None if that pause is over (the caller spoke again) or the turn has already ended."""
        if self._state == "speaking" and self._paused and pause_id == self._pause_id:
            return self._close_turn()
        return None

    def _neural(self, frame: np.ndarray, loud: bool) -> float:
        """Silero's P(speech) where it may be read (see `TurnConfig.silero_on_candidates`): outside
        a turn, on frames loud enough to be speech. A stream that skipped frames starts afresh
        over the half second before, so a candidate is judged as a continuous stream would."""
        if self._silero is None:
            return 1.0
        if not self.config.silero_on_candidates:
            return self._silero.push(frame)
        p = 0.0  # not read: inside a turn, or a frame too quiet to start one
        if self._state != "speaking" and loud:
            if self._silero_stale:
                self._silero.reset()
                for f in self._heard:
                    self._silero.push(f)
                self._silero_stale = False
            p = self._silero.push(frame)
        else:
            self._silero_stale = True
        if self._state != "speaking":
            self._heard.append(frame)
        return p

    def is_speech(self, frame: np.ndarray, loud: bool | None = None) -> bool:
        """webrtcvad's verdict on a frame above the energy floor (`loud`, when already known)."""
        if not (self._loud(frame) if loud is None else loud):
            return False
        return self._vad.is_speech(frame.astype(np.int16).tobytes(), self.rate)

    def _loud(self, frame: np.ndarray) -> bool:
        return frame_dbfs(frame) >= self.config.energy_floor_dbfs

    def feed(self, frame: np.ndarray, t: float) -> list[SpeechStarted | TurnPaused | TurnResumed | TurnEnded]:
        """`t` is the media time at the start of this frame, in seconds."""
        if len(frame) != self._frame_len:
            raise ValueError(f"expected {self._frame_len} samples, got {len(frame)}")
        c = self.config
        loud = self._loud(frame)
        voiced = self.is_speech(frame, loud)
        neural = self._neural(frame, loud)
        events: list[SpeechStarted | TurnPaused | TurnResumed | TurnEnded] = []
        end_t = t + FRAME_MS / 1000
        if self._state == "idle":
            if voiced:
                self._state = "candidate"
                self._onset = t
                self._cand = [(frame, True)]
                self._cand_peak = neural
                self._preroll_frames = len(self._pre)
            else:
                self._pre.append((frame, False))
        elif self._state == "candidate":
            self._cand.append((frame, voiced))
            self._cand_peak = max(self._cand_peak, neural)
            voiced_ms = sum(v for _, v in self._cand) * FRAME_MS
            if voiced_ms >= c.min_speech_ms and self._cand_peak >= c.onset_confirm:
                self._state = "speaking"
                self._turn = list(self._pre) + self._cand
                self._pre.clear()
                self._cand = []
                self._silence_ms = 0
                self._last_voiced_end = end_t if voiced else self._last_voiced_end
                events.append(SpeechStarted(onset=self._onset, confirmed=end_t))
            elif len(self._cand) * FRAME_MS >= c.onset_window_ms:
                # Not enough speech: a click, a cough, a line pop. Roll it into pre-roll.
                for item in self._cand:
                    self._pre.append((item[0], False))
                self._cand = []
                self._state = "idle"
        if self._state == "speaking" and not events:
            self._turn.append((frame, voiced))
        if self._state == "speaking":
            if voiced:
                self._silence_ms = 0
                self._last_voiced_end = end_t
                self._hold_ms = None
                if self._paused:
                    self._paused = False
                    events.append(TurnResumed(self._turn_index, self._pause_id))
            else:
                self._silence_ms += FRAME_MS
            too_long = (end_t - self._onset) * 1000 >= c.max_turn_ms
            limit = self._hold_ms if self._hold_ms is not None else c.silence_ms
            if self._silence_ms >= limit or too_long:
                events.append(self._close_turn())
            elif c.pause_ms and self._silence_ms == c.pause_ms:
                self._pause_id += 1
                self._paused = True
                audio, voiced = self._kept()
                events.append(TurnPaused(self._turn_index, self._pause_id, self._last_voiced_end, audio, voiced))
        return events

    def flush(self) -> list[TurnEnded]:
        """End of the call: a turn in progress still counts."""
        if self._state == "speaking":
            return [self._close_turn()]
        return []

    def _kept(self) -> tuple[np.ndarray, np.ndarray]:
        """Pre-roll, the speech, and `tail_ms` after the last voiced frame: what ASR hears."""
        keep = self._preroll_frames + int(round((self._last_voiced_end - self._onset) * 1000 / FRAME_MS))
        keep += self.config.tail_ms // FRAME_MS
        kept = self._turn[: max(1, keep)]
        return np.concatenate([f for f, _ in kept]), np.array([v for _, v in kept], dtype=bool)

    def _close_turn(self) -> TurnEnded:
        audio, voiced = self._kept()
        turn = TurnEnded(self._turn_index, self._onset, self._last_voiced_end, audio, voiced)
        self._turn_index += 1
        self._state = "idle"
        self._turn = []
        self._silence_ms = 0
        self._paused = False
        self._hold_ms = None
        self._pre.clear()
        self._heard.clear()
        return turn
