import numpy as np
import pytest

from voice.audio import frames, read_wav, resample, telephone_band
from voice.turns import SpeechStarted, TurnConfig, TurnDetector, TurnEnded


def run_detector(samples, config=None):
    det = TurnDetector(config)
    events = []
    for i, f in enumerate(frames(samples, 16000)):
        events += det.feed(f, i * 0.02)
    events += det.flush()
    return events


def phone16k(caller):
    a = read_wav(caller.path)
    return resample(telephone_band(a), 8000, 16000)


def test_turns_match_where_speech_is(make_caller):
    caller = make_caller([(1.0, "I need help with my account."), (1.5, "It says my password is wrong."), (2.0, "Can you reset it?")])
    events = run_detector(phone16k(caller))
    turns = [e for e in events if isinstance(e, TurnEnded)]
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    assert len(turns) == 3 and len(starts) == 3
    for turn, seg in zip(turns, caller.segments):
        assert seg.start - 0.1 <= turn.start <= seg.start + 0.15
        assert seg.end - 0.3 <= turn.end <= seg.end + 0.3
        # Pre-roll and tail are kept so ASR hears the whole utterance.
        assert len(turn.audio) / 16000 >= (turn.end - turn.start) + 0.2


def test_silence_shorter_than_the_setting_does_not_end_a_turn(make_caller):
    caller = make_caller([(0.5, "My order number is"), (0.1, "four five six.")])
    gap_ms = (caller.segments[1].start - caller.segments[0].end) * 1000
    longer = int(gap_ms // 20 + 10) * 20  # 200 ms more than the pause
    shorter = int(gap_ms // 20 - 8) * 20
    assert shorter >= 100, gap_ms
    one = [e for e in run_detector(phone16k(caller), TurnConfig(silence_ms=longer)) if isinstance(e, TurnEnded)]
    two = [e for e in run_detector(phone16k(caller), TurnConfig(silence_ms=shorter)) if isinstance(e, TurnEnded)]
    assert len(one) == 1 and len(two) == 2


def test_a_click_is_not_speech():
    x = np.zeros(16000 * 2, dtype=np.int16)
    rng = np.random.default_rng(0)
    x[16000 : 16000 + 480] = (rng.standard_normal(480) * 8000).astype(np.int16)  # 30 ms pop
    assert run_detector(x) == []


def test_silence_and_digital_zero_give_no_events():
    assert run_detector(np.zeros(16000 * 3, dtype=np.int16)) == []


def test_long_monologue_is_cut_for_whisper(make_caller):
    caller = make_caller([(0.2, "one two three four five six seven eight nine ten " * 3)])
    turns = [e for e in run_detector(phone16k(caller), TurnConfig(max_turn_ms=3000)) if isinstance(e, TurnEnded)]
    assert len(turns) >= 2 and all(t.end - t.start <= 3.05 for t in turns)


@pytest.mark.parametrize("bad", [dict(vad_mode=5), dict(silence_ms=0), dict(silence_ms=510), dict(min_speech_ms=400)])
def test_invalid_config_is_refused(bad):
    with pytest.raises(ValueError):
        TurnConfig(**bad)


def test_wrong_frame_size_is_an_error():
    with pytest.raises(ValueError):
        TurnDetector().feed(np.zeros(160, dtype=np.int16), 0.0)


def _pink(n: int, level: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    x = np.fft.irfft(spectrum, n)
    return x / np.std(x) * level


@pytest.mark.parametrize("on_candidates", [True, False])
def test_steady_line_noise_starts_no_turn_and_speech_over_it_does(make_caller, on_candidates):
    """Silero, asked only while an onset is a candidate (from a fresh state over the half second
    before), turns noise down as it does when it hears every frame, and lets speech through."""
    speech = phone16k(make_caller([(2.0, "I need to check on my order, please.")])).astype(float)
    noise = _pink(len(speech), 0.08 * np.std(speech[speech != 0]))  # ~22 dB SNR
    config = TurnConfig(silero_on_candidates=on_candidates)
    loud_noise = np.clip(noise * 3, -32768, 32767).astype(np.int16)
    webrtc_alone = run_detector(loud_noise, TurnConfig(onset_confirm=0.0))
    assert [e for e in webrtc_alone if isinstance(e, SpeechStarted)]  # the noise webrtcvad takes for speech...
    assert not [e for e in run_detector(loud_noise, config) if isinstance(e, SpeechStarted)]  # ...Silero does not
    both = run_detector(np.clip(speech + noise, -32768, 32767).astype(np.int16), config)
    starts = [e for e in both if isinstance(e, SpeechStarted)]
    assert len(starts) == 1 and 1.9 <= starts[0].onset <= 2.3, starts


def test_silero_runs_neither_on_a_quiet_line_nor_inside_a_turn(make_caller):
    speech = phone16k(make_caller([(1.0, "I need to check on my order, please.")]))
    pushes = {}
    for on_candidates in (True, False):
        det = TurnDetector(TurnConfig(silero_on_candidates=on_candidates))
        real_push, n = det._silero.push, [0]

        def counted(pcm, real_push=real_push, n=n):
            n[0] += 1
            return real_push(pcm)

        det._silero.push = counted
        events = []
        for i, f in enumerate(frames(speech, 16000)):
            events += det.feed(f, i * 0.02)
        pushes[on_candidates] = (n[0], [e.onset for e in events if isinstance(e, SpeechStarted)])
    frames_in = len(list(frames(speech, 16000)))
    assert pushes[False][0] == frames_in
    assert pushes[True][0] < frames_in / 3  # the turn and the quiet line around it went unheard
    assert len(pushes[True][1]) == 1 and pushes[True][1] == pushes[False][1]  # the same onset
