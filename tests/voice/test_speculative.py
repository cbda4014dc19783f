"""End of turn at a pause from a speculative transcription: used when finished, dropped when the
caller speaks again, and a turn that does not read as finished still waits for the long silence."""

import asyncio

import numpy as np
import pytest
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import run_test

from calls.expectation import Expectation
from voice.asr_prompts import HESITANT
from voice.audio import frames, read_wav, resample, telephone_band
from voice.frames import CallerTurnFrame
from voice.models import Transcript
from voice.playout import MediaClock
from voice.processors import Progress, TurnTakingProcessor
from voice.turns import TurnConfig, TurnDetector, TurnEnded, TurnPaused, TurnResumed

CONFIG = TurnConfig(pause_ms=200, silence_ms=800, no_input_ms=0)


class FakePlayout:
    rate = 8000

    def play(self, pcm):
        return 0.0

    def stop(self):
        pass

    def playing_until(self):
        return 0.0


class ClockedTurnTaking(TurnTakingProcessor):
    """Live-call timing under run_test, which queues every frame at once: the media clock is the end
    of the frame being looked at, and before each frame the event loop gets the turn it has in the
    20 ms between live frames (so a transcription that is ready gets to finish)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, InputAudioRawFrame):
            self._clock.now = frame.metadata["t"] + 0.02
            for _ in range(3):
                await asyncio.sleep(0)  # a yield, not a wait: no time passes
        await super().process_frame(frame, direction)


class FakeAsr:
    """Answers each transcription with the next scripted text; None: hang until cancelled."""

    def __init__(self, texts):
        self.texts = list(texts)
        self.calls = 0
        self.cancelled = 0
        self.prompts = []
        self.expected = []
        self.ends = []  # each call's `end`: will anyone read its P(stop)?
        self.wanted = []  # what `end` said when the words were back (where the model asks it)

    async def __call__(self, audio, prompt=None, expecting=None, end=None):
        self.expected.append(expecting)
        self.ends.append(end)
        text = self.texts[min(self.calls, len(self.texts) - 1)]
        self.calls += 1
        self.prompts.append(prompt)
        if text is None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        self.wanted.append(None if end is None else end(text))
        return Transcript(text=text, seconds=0.05)


def phone16k(caller):
    return resample(telephone_band(read_wav(caller.path)), 8000, 16000)


def input_frames(samples):
    """20 ms pipeline frames stamped with their media time, as VoiceCall feeds them."""
    sent = []
    for i, f in enumerate(frames(samples, 16000)):
        fr = InputAudioRawFrame(audio=f.tobytes(), sample_rate=16000, num_channels=1)
        fr.metadata["t"] = i * 0.02
        sent.append(fr)
    return sent


async def run_turns(samples, asr, analyse=None, expecting=None, config=CONFIG, **kw):
    proc = ClockedTurnTaking(config, MediaClock(), FakePlayout(), Progress(), transcribe=asr, analyse=analyse,
                             expecting=(lambda: expecting), **kw)
    down, _ = await run_test(proc, frames_to_send=input_frames(samples))
    return [f for f in down if isinstance(f, CallerTurnFrame)], proc


async def transcript_of(turn):
    return (await turn.asr_task).text


async def test_a_finished_transcript_ends_the_turn_at_the_pause(make_caller):
    caller = make_caller([(0.5, "I need help with my order.")], tail=1.5)
    turns, _ = await run_turns(phone16k(caller), FakeAsr(["I need help with my order."]))
    assert len(turns) == 1 and turns[0].speculative
    waited = turns[0].detected_at - turns[0].end
    assert waited < CONFIG.end.complete_ms / 1000 + 0.1 < CONFIG.silence_ms / 1000  # not the 800 ms silence
    assert await transcript_of(turns[0]) == "I need help with my order."


async def test_an_unfinished_transcript_waits_for_a_hesitation_to_resume(make_caller):
    """A transcript that trails off ("...is", "and", "um") holds the turn past the no-evidence
    silence, up to the hesitation wait: callers' filled pauses run to about a second."""
    caller = make_caller([(0.5, "I need help with my order.")], tail=2.5)
    asr = FakeAsr(["My order number is"])
    turns, _ = await run_turns(phone16k(caller), asr)
    assert len(turns) == 1
    waited = turns[0].detected_at - turns[0].end
    assert CONFIG.silence_ms / 1000 < CONFIG.end.unfinished_ms / 1000 - 0.001 <= waited < CONFIG.end.unfinished_ms / 1000 + 0.1
    # The pause's transcription still serves the turn: no second model run.
    assert turns[0].speculative and asr.calls == 1
    assert await transcript_of(turns[0]) == "My order number is"


async def test_a_turn_ending_at_its_pause_brings_the_prosody_started_there(make_caller):
    """Prosody follows the pause's transcription, on the same audio; a pause the caller talks on
    from (its transcription dropped) is never analysed, and the turn carries the analysis of the
    pause it ended at."""
    caller = make_caller([(0.5, "My order number is"), (0.45, "four five six.")], tail=1.5)
    started = []

    def analyse(audio, voiced):
        fut = asyncio.get_running_loop().create_future()
        fut.set_result({"n": len(audio)})
        started.append((fut, audio, voiced))
        return fut

    asr = FakeAsr([None, "My order number is four five six."])
    turns, _ = await run_turns(phone16k(caller), asr, analyse)
    assert len(turns) == 1 and asr.cancelled == 1 and len(started) == 1
    _, audio, voiced = started[0]
    assert await turns[0].prosody_future == {"n": len(turns[0].audio)}
    assert np.array_equal(audio, turns[0].audio) and np.array_equal(voiced, turns[0].voiced)


async def test_speech_resuming_drops_the_speculation(make_caller):
    caller = make_caller([(0.5, "My order number is"), (0.45, "four five six.")], tail=1.5)
    gap = caller.segments[1].start - caller.segments[0].end
    assert 0.3 < gap < 0.8, gap  # longer than the pause, shorter than the silence
    asr = FakeAsr([None, "My order number is four five six."])
    turns, proc = await run_turns(phone16k(caller), asr)
    assert asr.cancelled >= 1 and proc.speculations_dropped >= 1
    assert len(turns) == 1  # one turn over both parts
    assert turns[0].asr_dropped == proc.speculations_dropped  # the stages trace counts them
    assert turns[0].end > caller.segments[1].start
    assert await transcript_of(turns[0]) == "My order number is four five six."


async def test_a_pause_between_two_finished_sentences_does_not_end_the_turn(make_caller):
    """The first sentence reads as finished and its transcript is back at once, but the caller
    goes on after a short pause: one turn, not a reply talking over the second sentence."""
    caller = make_caller([(0.5, "My parcel is late."), (0.1, "It was due on Monday.")], tail=1.5)
    gap = caller.segments[1].start - caller.segments[0].end
    assert CONFIG.pause_ms / 1000 < gap < CONFIG.end.complete_ms / 1000, gap
    asr = FakeAsr(["My parcel is late.", "My parcel is late. It was due on Monday."])
    turns, _ = await run_turns(phone16k(caller), asr)
    assert len(turns) == 1 and turns[0].end > caller.segments[1].start


async def test_a_turn_ending_on_account_waits_longer_but_not_for_the_long_silence(make_caller):
    """"...my account," then more: callers go on after such a word, so it gets `soft_complete_ms`;
    said alone, it still ends well before the 800 ms silence."""
    caller = make_caller([(0.5, "I can't log in to my account."), (0.25, "It keeps saying my password is wrong.")], tail=1.5)
    gap = caller.segments[1].start - caller.segments[0].end
    assert CONFIG.end.complete_ms / 1000 < gap < CONFIG.end.soft_complete_ms / 1000, gap
    asr = FakeAsr(["I can't log in to my account.", "I can't log in to my account. It keeps saying my password is wrong."])
    turns, _ = await run_turns(phone16k(caller), asr)
    assert len(turns) == 1 and turns[0].end > caller.segments[1].start

    alone = make_caller([(0.5, "I'd like to change the address on my account.")], tail=1.5)
    turns, _ = await run_turns(phone16k(alone), FakeAsr(["I'd like to change the address on my account."]))
    waited = turns[0].detected_at - turns[0].end
    assert len(turns) == 1 and CONFIG.end.soft_complete_ms / 1000 - 0.001 <= waited < CONFIG.silence_ms / 1000, waited


def test_detector_pause_resume_and_end_now(make_caller):
    caller = make_caller([(0.5, "My order number is"), (0.45, "four five six.")], tail=1.5)
    det = TurnDetector(CONFIG)
    events = []
    for i, f in enumerate(frames(phone16k(caller), 16000)):
        events += det.feed(f, i * 0.02)
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("TurnEnded") == 1 and kinds[-1] == "TurnEnded"
    first_pause = next(e for e in events if isinstance(e, TurnPaused))
    assert abs(first_pause.end - caller.segments[0].end) < 0.3
    resumed = [e for e in events if isinstance(e, TurnResumed)]
    assert resumed and resumed[0].pause_id == first_pause.pause_id
    # A stale pause cannot end the turn; the current one can, with the audio it offered.
    det = TurnDetector(CONFIG)
    pauses = []
    for i, f in enumerate(frames(phone16k(caller), 16000)):
        for ev in det.feed(f, i * 0.02):
            if isinstance(ev, TurnPaused):
                pauses.append(ev)
        if len(pauses) == 2:
            break
    assert det.end_now(pauses[0].pause_id) is None
    ended = det.end_now(pauses[1].pause_id)
    assert isinstance(ended, TurnEnded) and np.array_equal(ended.audio, pauses[1].audio)
    assert det.end_now(pauses[1].pause_id) is None  # already over


def test_pause_must_be_a_frame_multiple():
    with pytest.raises(ValueError):
        TurnConfig(pause_ms=150)


async def test_the_transcript_of_the_pause_gives_the_nlu_a_head_start(make_caller):
    """`prepare` gets the pause's transcript as soon as it is back, before the turn is declared
    over, so the responder's NLU (embedding the text) is done when the reply is asked for."""
    caller = make_caller([(0.5, "I need help with my order.")], tail=1.5)
    prepared = []
    asr = FakeAsr(["I need help with my order."])
    clock = MediaClock()
    proc = ClockedTurnTaking(CONFIG, clock, FakePlayout(), Progress(), transcribe=asr,
                             prepare=lambda text: prepared.append((text, clock.now)))
    down, _ = await run_test(proc, frames_to_send=input_frames(phone16k(caller)))
    turns = [f for f in down if isinstance(f, CallerTurnFrame)]
    assert len(turns) == 1 and prepared and prepared[0][0] == "I need help with my order."
    assert prepared[0][1] < turns[0].detected_at  # ahead of the end of turn


def test_understanding_prepare_fills_the_embedding_cache():
    from nlu import embeddings
    from nlu.understanding import Understanding

    from nlu.textnorm import normalise

    said = "Is my parcel coming on Thursday or Friday?"
    embeddings._recent.pop(normalise(said), None)
    Understanding().prepare(said)
    ahead = embeddings._recent[normalise(said)].copy()
    a = Understanding().analyse(said)  # another call's NLU: the same text, from memory
    assert np.array_equal(a.embedding, ahead[0]) and abs(float(a.embedding @ a.embedding) - 1.0) < 1e-3


ORDER = Expectation("order_number", digits=(5,), keypad=True)


async def test_a_number_read_in_groups_is_one_turn_when_the_bot_asked_for_it(make_caller):
    """The bot asked for a five-digit order number; the caller reads two digits, stops for a
    second, reads three. Two digits are not the answer: the turn waits for the rest and the
    whole number is one turn. Asked nothing, the same audio is answered at the first group
    (it reads as a finished sentence)."""
    caller = make_caller([(0.5, "Four five."), (1.0, "six seven eight.")], tail=3.0)
    gap = caller.segments[1].start - caller.segments[0].end
    assert CONFIG.end.unsure_ms / 1000 < gap < CONFIG.end.pending_ms / 1000, gap
    said = ["Four five.", "Four five six seven eight."]
    asr = FakeAsr(said)
    turns, _ = await run_turns(phone16k(caller), asr, expecting=ORDER)
    assert len(turns) == 1 and turns[0].end > caller.segments[1].start
    assert await transcript_of(turns[0]) == "Four five six seven eight."
    assert set(asr.prompts) == {HESITANT}  # hesitations written down (voice.asr_prompts)
    assert set(asr.expected) == {ORDER}  # the transcriber knows a number is due (voice.digit_reading)
    assert turns[0].detected_at - turns[0].end < CONFIG.end.complete_ms / 1000 + 0.1  # complete: no long wait

    asked_nothing = FakeAsr(said)
    turns, _ = await run_turns(phone16k(caller), asked_nothing)
    assert len(turns) == 2


async def test_a_partial_number_still_ends_at_the_long_silence(make_caller):
    """A caller who gives two digits and stops is answered after `pending_ms`, not never."""
    caller = make_caller([(0.5, "Four five.")], tail=3.5)
    turns, _ = await run_turns(phone16k(caller), FakeAsr(["Four five."]), expecting=ORDER)
    waited = turns[0].detected_at - turns[0].end
    assert len(turns) == 1 and CONFIG.end.pending_ms / 1000 - 0.001 <= waited < CONFIG.end.pending_ms / 1000 + 0.1


def test_hold_lasts_one_pause(make_caller):
    """A pause's silence limit is forgotten when the caller speaks again."""
    caller = make_caller([(0.5, "My order number is"), (0.45, "four five six.")], tail=1.5)
    det = TurnDetector(CONFIG)
    ended_at = None
    held = False
    for i, f in enumerate(frames(phone16k(caller), 16000)):
        for ev in det.feed(f, i * 0.02):
            if isinstance(ev, TurnPaused) and not held:
                det.hold(ev.pause_id, 5000)  # the first pause only
                held = True
            if isinstance(ev, TurnEnded):
                ended_at = i * 0.02
    # The second pause had no hold: the turn ended at the default silence after the last word.
    assert ended_at is not None and ended_at - caller.segments[1].end < CONFIG.silence_ms / 1000 + 0.3


async def test_with_smart_turn_on_an_unfinished_sounding_voice_holds_a_finished_transcript(make_caller):
    """Smart Turn is off by default (it barely separates on telephone audio, `ivr eval turns`);
    switched on, its reading at `smart_turn_ms` can only lengthen the wait for a finished text."""
    import dataclasses

    caller = make_caller([(0.5, "I want to move.")], tail=2.0)
    cfg = dataclasses.replace(CONFIG, smart_turn_ms=300)
    heard = []

    async def unfinished(audio):
        heard.append(len(audio))
        return 0.01

    turns, _ = await run_turns(phone16k(caller), FakeAsr(["I want to move."]), config=cfg, smart_turn=unfinished)
    waited = turns[0].detected_at - turns[0].end
    assert len(turns) == 1 and len(heard) == 1
    assert cfg.end.unsure_ms / 1000 - 0.001 <= waited < cfg.end.unsure_ms / 1000 + 0.1


async def test_the_end_reading_is_wanted_only_where_the_rule_will_read_it(make_caller):
    """Whisper's P(stop) (an extra decoder pass) is asked for a live pause whose words read
    finished; not for words that trail off, nor once the turn is over."""
    caller = make_caller([(0.5, "I need help with my order.")], tail=1.5)
    asr = FakeAsr(["I need help with my order."])
    turns, _ = await run_turns(phone16k(caller), asr)
    assert len(turns) == 1 and asr.wanted == [True]
    assert asr.ends[0]("I need help with my order.") is False  # decided: nobody reads it now
    unfinished = FakeAsr(["My order number is"])
    await run_turns(phone16k(make_caller([(0.5, "I need help with my order.")], tail=2.5)), unfinished)
    assert unfinished.wanted == [False]


async def test_a_partial_number_wants_no_end_reading(make_caller):
    """ "Four five." for a five-digit order number is pending whatever Whisper thinks of its stop."""
    caller = make_caller([(0.5, "Four five."), (1.0, "six seven eight.")], tail=3.0)
    asr = FakeAsr(["Four five.", "Four five six seven eight."])
    await run_turns(phone16k(caller), asr, expecting=ORDER)
    assert asr.wanted == [False, False]  # pending, then all the digits: the number rules decide


async def test_a_dropped_speculation_wants_no_end_reading(make_caller):
    caller = make_caller([(0.5, "My order number is"), (0.45, "four five six.")], tail=1.5)
    asr = FakeAsr([None, "My order number is four five six."])
    turns, proc = await run_turns(phone16k(caller), asr)
    assert proc.speculations_dropped >= 1 and len(turns) == 1
    assert asr.ends[0]("My order number is.") is False  # the caller spoke again: its result is unread
