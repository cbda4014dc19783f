"""Keys at the voice edge: a key press restarts the no-input timer, and the key that starts a
keypad entry while the bot is talking cuts the bot short (pipecat's run_test, frames in and out)."""

from __future__ import annotations

import numpy as np
from pipecat.audio.dtmf.types import KeypadEntry as Key
from pipecat.frames.frames import Frame, InputAudioRawFrame, InputDTMFFrame, InterruptionFrame, OutputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import SleepFrame, run_test

from calls.events import BotEvent, CallEvent
from calls.expectation import Expectation
from voice.dtmf_entry import DtmfEntryProcessor
from voice.frames import BotReplyStartFrame, CallerKeyPressedFrame, CallerTurnFrame
from voice.playout import MediaClock, RecordedPlayout
from voice.processors import CallOutputProcessor, Progress, TurnTakingProcessor
from voice.turns import TurnConfig


def key(digit: str) -> InputDTMFFrame:
    """A caller's key press, as the transport reads it off RTP."""
    return InputDTMFFrame(button=Key(digit))

ORDER = Expectation("order_number", digits=(5,), keypad=True)


class _Clocked(TurnTakingProcessor):
    """The media clock is the end of the frame being looked at (run_test queues all at once)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, InputAudioRawFrame):
            self._clock.now = frame.metadata["t"] + 0.02
        await super().process_frame(frame, direction)


def silence(i: int) -> InputAudioRawFrame:
    f = InputAudioRawFrame(audio=np.zeros(320, dtype=np.int16).tobytes(), sample_rate=16000, num_channels=1)
    f.metadata["t"] = i * 0.02
    return f


async def _no_input_turns(key_frames: dict[int, Frame]) -> int:
    clock = MediaClock()
    proc = _Clocked(TurnConfig(pause_ms=0, silence_ms=800, no_input_ms=1000), clock, RecordedPlayout(clock),
                    Progress())
    sent: list[Frame] = []
    for i in range(100):  # 2 s of silence after the bot finished
        if i in key_frames:  # live, 20 ms pass between frames: a short sleep stands in for that
            sent += [key_frames[i], SleepFrame(sleep=0.01)]
        sent.append(silence(i))
    down, _ = await run_test(proc, frames_to_send=sent)
    return sum(isinstance(f, CallerTurnFrame) and f.no_input for f in down)


async def test_a_key_press_restarts_the_no_input_timer():
    assert await _no_input_turns({}) == 1  # 1 s of silence: "Are you still there?"
    # keys 0.8 s apart (an entry's digitless key frames, a key that passed through): never 1 s quiet
    keys = {40: CallerKeyPressedFrame(), 80: key("5")}
    assert await _no_input_turns(keys) == 0


async def test_keys_of_an_entry_go_on_without_their_digits_and_the_first_one_interrupts_a_talking_bot():
    progress = Progress()
    proc = DtmfEntryProcessor(lambda: ORDER, progress, playing=lambda: True)
    sent = [key("4"), SleepFrame(sleep=0.01), key("5"), SleepFrame(sleep=0.01)]
    down, _ = await run_test(proc, frames_to_send=sent)
    keys = [f for f in down if isinstance(f, CallerKeyPressedFrame)]
    assert [k.cut_in for k in keys] == [True, False]  # only the key that starts the entry cuts in
    assert sum(isinstance(f, InterruptionFrame) for f in down) == 1
    assert not any(isinstance(f, InputDTMFFrame) for f in down) and not hasattr(keys[0], "digit")
    # owed: the cut (until the output has acted on it) and the entry "45" the call's end flushed
    assert progress.owed == 2


async def test_no_cut_in_when_the_bot_is_silent():
    proc = DtmfEntryProcessor(lambda: ORDER, Progress(), playing=lambda: False)
    down, _ = await run_test(proc, frames_to_send=[key("4"), SleepFrame(sleep=0.01)])
    assert [f.cut_in for f in down if isinstance(f, CallerKeyPressedFrame)] == [False]
    assert not any(isinstance(f, InterruptionFrame) for f in down)


async def test_a_key_pressed_during_the_prompt_stops_its_playout():
    clock = MediaClock()
    clock.now = 0.5
    playout = RecordedPlayout(clock)
    progress = Progress()
    events: list[CallEvent] = []
    entry = DtmfEntryProcessor(lambda: ORDER, progress, playing=lambda: playout.playing_until() > clock.now)
    output = CallOutputProcessor(clock, playout, progress, events.append)
    prompt = OutputAudioRawFrame(audio=np.ones(16000, dtype=np.int16).tobytes(), sample_rate=8000, num_channels=1)
    sent = [BotReplyStartFrame(reply_id=0, text="Please say or key in your order number."), prompt,
            SleepFrame(sleep=0.05), key("4"), SleepFrame(sleep=0.05)]
    await run_test(Pipeline([entry, output]), frames_to_send=sent)
    assert playout.playing_until() <= clock.now + 1e-9  # 2 s prompt queued at 0.5 s: stopped at 0.5 s
    assert (playout.audio(3.0)[int(0.6 * 8000):] == 0).all()
    (bot,) = [e for e in events if isinstance(e, BotEvent)]
    assert bot.interrupted is True
    assert progress.owed == 1  # the cut is settled; left: the entry "4" the end flushed, a bot turn's to answer
