"""Keypad entry: the pure aggregator, then the processor through pipecat's run_test."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.audio.dtmf.types import KeypadEntry as Key
from pipecat.frames.frames import InputAudioRawFrame, InputDTMFFrame
from pipecat.tests.utils import SleepFrame, run_test

from calls.expectation import Expectation
from voice.dtmf_entry import DtmfEntryProcessor, KeypadEntry
from voice.frames import CallerTurnFrame
from voice.processors import Progress


def key(digit: str) -> InputDTMFFrame:
    """A caller's key press, as the transport reads it off RTP."""
    return InputDTMFFrame(button=Key(digit))

ORDER = Expectation("order_number", digits=(5,), keypad=True)
SPOKEN_ONLY = Expectation("order_number", digits=(5,))
YES_NO = Expectation("yes_no")


def keys(entry: KeypadEntry, seq: str, t0: float = 1.0, step: float = 0.3, expect=ORDER):
    """Press `seq` one key every `step` s; (keys taken, entries finished)."""
    taken, done = [], []
    for i, k in enumerate(seq):
        t = t0 + i * step
        if entry.takes(k, t, expect):
            taken.append(k)
            turn = entry.press(k, t, expect)
            if turn is not None:
                done.append(turn)
    return taken, done


def test_hash_ends_an_entry_short_of_the_digit_count():
    _, done = keys(KeypadEntry(), "123#")
    assert [(d.digits, d.why) for d in done] == [("123", "end_key")]
    assert done[0].start == 1.0 and done[0].end == 1.9


def test_the_expected_digit_count_ends_the_entry_and_a_following_hash_is_absorbed():
    entry = KeypadEntry()
    taken, done = keys(entry, "45678#")
    assert [(d.digits, d.why) for d in done] == [("45678", "complete")]
    assert taken == list("45678#")  # the '#' callers type after the number is not a stray key
    assert not entry.active


def test_silence_after_the_last_key_ends_the_entry_on_the_media_clock():
    entry = KeypadEntry(timeout_s=3.0)
    keys(entry, "12")
    assert entry.tick(1.3 + 2.9) is None and entry.active
    turn = entry.tick(1.3 + 3.0)
    assert turn is not None and (turn.digits, turn.why) == ("12", "timeout")


def test_zero_is_a_digit_during_an_entry_but_passes_through_when_nothing_is_expected():
    entry = KeypadEntry()
    assert not entry.takes("0", 0.0, None)
    assert not entry.takes("0", 0.0, YES_NO)
    assert not entry.takes("0", 0.0, SPOKEN_ONLY)
    _, done = keys(entry, "10234")
    assert done[0].digits == "10234"


def test_star_starts_over_and_lone_hash_or_star_give_nothing():
    _, done = keys(KeypadEntry(), "99*12345")
    assert [d.digits for d in done] == ["12345"]
    entry = KeypadEntry()
    assert not entry.takes("#", 0.0, ORDER)  # nothing keyed: '#' is just a key
    _, done = keys(entry, "1*#")
    assert done == []


def test_the_call_ending_flushes_what_was_keyed():
    entry = KeypadEntry()
    keys(entry, "12")
    turn = entry.flush(5.0)
    assert turn is not None and (turn.digits, turn.why) == ("12", "call_ended")
    assert entry.flush(6.0) is None


def audio(t: float) -> InputAudioRawFrame:
    f = InputAudioRawFrame(audio=np.zeros(320, dtype=np.int16).tobytes(), sample_rate=16000, num_channels=1)
    f.metadata["t"] = t
    return f


def frames_with_keys(presses: dict[int, str], n: int) -> list:
    """n 20 ms audio frames, with the key presses[i] before frame i. Audio frames are system
    frames, which pipecat handles ahead of queued data frames; live, 20 ms pass between them, so a
    short sleep after each key stands in for that (run_test queues everything at once)."""
    out = []
    for i in range(n):
        if i in presses:
            out += [key(presses[i]), SleepFrame(sleep=0.01)]
        out.append(audio(i * 0.02))
    return out


async def test_processor_turns_an_entry_into_one_keypad_turn_and_owes_the_answer():
    progress = Progress()
    proc = DtmfEntryProcessor(lambda: ORDER, progress, timeout_s=3.0)
    sent = frames_with_keys({10: "4", 20: "5", 30: "6", 40: "#"}, 60)
    down, _ = await run_test(proc, frames_to_send=sent)
    turns = [f for f in down if isinstance(f, CallerTurnFrame)]
    assert len(turns) == 1
    t = turns[0]
    assert t.keypad and t.text == "456" and t.keypad_end == "end_key"
    assert abs(t.start - 0.2) < 1e-6 and abs(t.end - 0.8) < 1e-6  # media: the end of the frame before each key
    assert not any(isinstance(f, InputDTMFFrame) for f in down)  # the keys went into the entry
    assert sum(isinstance(f, InputAudioRawFrame) for f in down) == 60  # audio passes untouched
    assert progress.owed == 1  # the bot's turn settles it


async def test_processor_ends_an_entry_after_the_timeout_of_media_time():
    proc = DtmfEntryProcessor(lambda: ORDER, Progress(), timeout_s=0.5)
    sent = frames_with_keys({5: "1", 10: "2"}, 60)  # last key at 0.2 s; media runs to 1.2 s
    down, _ = await run_test(proc, frames_to_send=sent)
    (turn,) = [f for f in down if isinstance(f, CallerTurnFrame)]
    assert turn.text == "12" and turn.keypad_end == "timeout"
    assert abs(turn.end - 0.7) < 1e-6  # 0.5 s after the last key, not at the end of the audio
    i = down.index(turn)
    assert isinstance(down[i + 1], InputAudioRawFrame) and abs(down[i + 1].metadata["t"] - 0.68) < 1e-6


async def test_processor_passes_keys_through_when_no_number_is_expected():
    progress = Progress()
    proc = DtmfEntryProcessor(lambda: YES_NO, progress)
    down, _ = await run_test(proc, frames_to_send=frames_with_keys({3: "0", 6: "5"}, 10))
    assert [f.button.value for f in down if isinstance(f, InputDTMFFrame)] == ["0", "5"]
    assert not any(isinstance(f, CallerTurnFrame) for f in down) and progress.owed == 0


async def test_zero_alone_still_asks_for_a_person_while_a_number_is_expected():
    """No order number is a lone 0: "0#", or 0 and a pause, is the caller pressing 0 for a person
    (the policy's rule), not an entry; 0 inside a number stays a digit."""
    progress = Progress()
    proc = DtmfEntryProcessor(lambda: ORDER, progress, timeout_s=0.5)
    down, _ = await run_test(proc, frames_to_send=frames_with_keys({3: "0", 6: "#", 20: "1", 22: "0", 24: "#"}, 40))
    assert [f.button.value for f in down if isinstance(f, InputDTMFFrame)] == ["0"]
    assert [f.text for f in down if isinstance(f, CallerTurnFrame)] == ["10"]
    assert progress.owed == 1  # only the entry is owed an answer; the 0 goes to the policy


YES_NO_KEYS = Expectation("yes_no", keypad=True, choices="12")


def test_a_key_offered_as_a_choice_answers_at_once_and_zero_still_passes_through():
    e = KeypadEntry()
    taken, done = keys(e, "1", expect=YES_NO_KEYS)
    assert taken == ["1"] and [(t.digits, t.why) for t in done] == [("1", "choice")] and not e.active
    assert keys(KeypadEntry(), "0", expect=YES_NO_KEYS) == ([], [])  # 0 is the policy's: a person
    assert keys(KeypadEntry(), "7", expect=YES_NO_KEYS) == ([], [])


def test_choices_are_keypad_digits_for_an_answer_that_is_not_a_number():
    with pytest.raises(ValueError):
        Expectation("order_number", digits=(5,), keypad=True, choices="12")
    with pytest.raises(ValueError):
        Expectation("yes_no", choices="12")  # not on the keypad
    with pytest.raises(ValueError):
        Expectation("yes_no", keypad=True, choices="1#")
