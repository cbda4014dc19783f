"""FileCall: the telephony Call's media interface over a scripted caller, on the media clock."""

import asyncio

import numpy as np

from voice.file_call import FileCall
from voice.playout import MediaClock
from voice.processors import Progress


def frame(value: int) -> np.ndarray:
    return np.full(160, value, dtype=np.int16)


async def test_frames_come_in_order_then_none_and_the_call_ends():
    clock, progress = MediaClock(), Progress()
    script = [frame(1), frame(2)]

    async def next_frame():
        return script.pop(0) if script else None

    call = FileCall(clock, progress, next_frame)
    got = [await call.read_frame(), await call.read_frame()]
    assert [np.frombuffer(f, np.int16)[0] for f in got] == [1, 2]
    assert await call.read_frame() is None and call.ended.is_set() and call.end_reason is None
    assert await call.read_frame() is None


async def test_fast_mode_waits_for_the_pipeline_to_settle_before_the_next_frame():
    clock, progress = MediaClock(), Progress()

    async def next_frame():
        return frame(0)

    call = FileCall(clock, progress, next_frame)
    progress.note(owed=1)  # a reply owed: the caller's clock must not move on
    reading = asyncio.create_task(call.read_frame())
    await asyncio.sleep(0.05)
    assert not reading.done()
    progress.note(owed=-1)
    assert await asyncio.wait_for(reading, 1) is not None


async def test_keys_pressed_for_a_frame_are_taken_before_the_frame_is_handed_out():
    clock, progress = MediaClock(), Progress()
    taken: list[str] = []

    async def next_frame():
        call.press("5")
        return frame(0)

    call = FileCall(clock, progress, next_frame)
    reading = asyncio.create_task(call.read_frame())
    await asyncio.sleep(0.05)
    assert not reading.done()  # nobody has taken the key yet
    taken.append(await call.dtmf.get())
    call.dtmf.task_done()  # as the transport does once the key is in the pipeline
    assert await asyncio.wait_for(reading, 1) is not None and taken == ["5"]


async def test_the_bot_is_recorded_on_the_media_clock_and_a_flush_cuts_it_at_now():
    clock, progress = MediaClock(), Progress()
    call = FileCall(clock, progress, lambda: None)
    clock.now = 1.0
    progress.note(audio_out=16000)  # what the output passed on, not yet in the call
    call.play(np.ones(8000, dtype=np.int16).tobytes())  # 1 s from media time 1.0
    assert progress.audio_out == 8000 and not progress.settled
    assert call.playback_queued_ms() == 1000.0
    clock.now = 1.5
    call.clear_playback()  # barge-in at 1.5 s
    assert progress.audio_out == 0 and call.playback_queued_ms() == 0.0
    audio = call.recording.audio(3.0)
    assert audio[:8000].sum() == 0 and (audio[8000:12000] == 1).all() and audio[12000:].sum() == 0
