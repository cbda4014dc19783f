"""`ivr eval turns`: false cut-offs and dead air scored from the evidence at each pause."""

import numpy as np
import pytest

from calls.expectation import Expectation
from ivr.tools import eval_turns, turn_corpus
from ivr.tools.eval_turns import Detector, Pause, TurnResult, delay_at_cutoff, digits_heard, find_pauses, score, silence_only
from voice.endpointing import EndOfTurnRule

ORDER = Expectation("order_number", digits=(5,), keypad=True)


def turn(tid, inner, final_text="Done.", expecting=None, said="", **texts):
    pauses = [Pause(end=1.0 + i, length_ms=ms, texts={"plain": t, "hesitant": t}) for i, (ms, t) in enumerate(inner)]
    pauses.append(Pause(end=9.0, length_ms=None, texts={"plain": final_text, "hesitant": final_text, **texts},
                        asr_ms=150.0))
    return TurnResult(tid, "tune", "v", "synth", expecting, said=said, pauses=pauses)


def test_a_pause_longer_than_the_rules_silence_is_a_cut_off():
    rs = [turn("a", [(700.0, "x")]), turn("b", [(200.0, "x")]), turn("c", [])]
    row = score(rs, Detector("silence 300", silence_only(300)))
    assert row["turns_with_pauses"] == 2 and row["false_cutoff_turns_pct"] == 50.0
    assert row["cut_turns"] == ["a"]
    # dead air over the turns not cut: b and c, 300 ms each (VAD only: no evidence to wait for)
    assert row["dead_air_ms"] == {"p50": 300.0, "p95": 300.0, "n": 2}


def test_dead_air_waits_for_the_evidence_when_it_comes_later_than_the_rule():
    rs = [turn("a", [], final_text="I'd like to check my order.")]
    rs[0].pauses[-1].asr_ms = 400.0  # Whisper back at 140 + 400 ms: after the 400 ms floor
    row = score(rs, Detector("transcript", eval_turns.transcript_rule(EndOfTurnRule(), smart_turn_at=None,
                                                                      expectation=False, prompt="plain"), asr=True))
    assert row["dead_air_ms"]["p50"] == 540.0


def test_the_expectation_holds_a_number_read_in_groups():
    rs = [turn("n", [(1100.0, "Four five.")], final_text="Four five six seven eight.", expecting=ORDER)]
    with_exp = eval_turns.transcript_rule(EndOfTurnRule(), smart_turn_at=None, expectation=True, prompt="plain")
    without = eval_turns.transcript_rule(EndOfTurnRule(), smart_turn_at=None, expectation=False, prompt="plain")
    assert score(rs, Detector("e", with_exp, asr=True))["false_cutoff_turns_pct"] == 0.0
    assert score(rs, Detector("no e", without, asr=True))["false_cutoff_turns_pct"] == 100.0


def test_delay_at_a_cutoff_rate_is_the_silence_that_few_pauses_outlast():
    rs = [turn(str(i), [(float(ms), "x")]) for i, ms in enumerate(range(100, 1100, 100))]  # 100..1000 ms
    assert delay_at_cutoff(rs, 10.0) == 900.0  # only the 1000 ms pause outlasts 900 ms
    assert delay_at_cutoff(rs, 0.0) == 1000.0


def test_digits_heard_right_compares_the_final_transcript_with_what_was_said():
    rs = [turn("ok", [], final_text="Four five six seven eight.", expecting=ORDER, said="Four five | six seven | eight.",
               number="4 5 6 7 8"),
          turn("bad", [], final_text="Four five six seven.", expecting=ORDER, said="Four five | six seven | eight.",
               number="45678")]
    d = digits_heard(rs)
    assert d["plain"] == {"right_pct": 50.0, "n": 2} and d["number"]["right_pct"] == 100.0


def test_find_pauses_measures_each_silence_inside_the_turn():
    rate = 16000
    rng = np.random.default_rng(0)

    def voiced(s):  # a buzzy vowel-like signal webrtcvad takes for speech
        t = np.arange(int(s * rate)) / rate
        x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 560, 700), 1))
        return (3000 * x * (1 + 0.3 * np.sin(2 * np.pi * 4 * t)) + rng.normal(0, 50, len(t))).astype(np.int16)

    quiet = lambda s: np.zeros(int(s * rate), dtype=np.int16)  # noqa: E731
    audio = np.concatenate([quiet(0.3), voiced(0.8), quiet(0.9), voiced(0.8), quiet(2.0)])
    found = find_pauses(audio)
    lengths = [length for _, length in found]
    assert lengths[-1] is None  # the real end
    assert any(length is not None and 800 <= length <= 1000 for length in lengths[:-1]), lengths


def test_the_corpus_split_is_fixed_by_the_data():
    assert not set(turn_corpus.TUNE_SCRIPTS) & set(turn_corpus.HELDOUT_SCRIPTS)
    # the fresh split shares no script with either (but a one-word answer: "Yes."), and has voices heard in neither
    longer = lambda scripts: {t for _, t in scripts if len(t.split()) > 2}  # noqa: E731
    assert not longer(turn_corpus.FRESH_SCRIPTS) & longer(turn_corpus.TUNE_SCRIPTS + turn_corpus.HELDOUT_SCRIPTS)
    assert len(turn_corpus.FRESH_SCRIPTS) >= 35 and all(v.heldout_only for v in turn_corpus.FRESH_ONLY_VOICES)
    assert all(v.heldout_only for v in turn_corpus.HELDOUT_ONLY_VOICES)
    assert not {v.id for v in turn_corpus.TUNE_VOICES} & {v.id for v in turn_corpus.HELDOUT_ONLY_VOICES}
    assert turn_corpus.pause_lengths("x", 3) == turn_corpus.pause_lengths("x", 3)  # deterministic
    assert all(0.5 <= p <= 1.4 for p in turn_corpus.pause_lengths("y", 50))
    assert turn_corpus.script_segments("a, | b | c.") == ["a,", "b", "c."]


@pytest.mark.e2e
def test_a_few_corpus_turns_through_the_real_models(models, tmp_path):
    """Rendered turns, the service's TurnDetector, Whisper and Smart Turn: the hesitation prompt
    keeps the filler that tells the service a hesitating caller is not done."""
    from voice.smart_turn import SmartTurn

    renderer = turn_corpus.Renderer(models, tmp_path / "clips")
    asked, text = turn_corpus.TUNE_SCRIPTS[0]  # "I want to move, uh, | my delivery to Friday."
    t = turn_corpus.synth_turn(renderer, "tune/00/piper", "tune", turn_corpus.TUNE_VOICES[0], asked, text)
    cache = eval_turns.EvidenceCache(tmp_path / "evidence.json")
    (r,) = eval_turns.gather([t], models, SmartTurn(), cache, progress=lambda m: None)
    inner = [p for p in r.pauses if p.length_ms and p.length_ms > 400]
    assert inner and r.final is not None
    assert {"plain", "hesitant"} <= set(inner[0].texts)
    assert "uh" in inner[0].texts["hesitant"].lower()  # written down: the transcript trails off
    service = eval_turns.configurations(EndOfTurnRule())[-1]
    assert score([r], service)["false_cutoff_turns_pct"] == 0.0
    assert cache.path.is_file()  # a second run reads the evidence back


def test_a_cut_is_mid_sentence_unless_the_script_ended_a_sentence_there():
    from ivr.tools.eval_turns import Pause, TurnResult

    between = TurnResult("t", "tune", "v", "synth", None, said="Balance. | Please.", inserted=[(1.0, 2.0)])
    inside = TurnResult("t", "tune", "v", "synth", None, said="I want to move, uh, | my delivery.", inserted=[(1.0, 2.0)])
    assert not between.mid_sentence(Pause(end=1.05, length_ms=950))
    assert inside.mid_sentence(Pause(end=1.05, length_ms=950))
    assert between.mid_sentence(Pause(end=0.4, length_ms=200))  # a gap the script did not put there


def test_a_doubted_pause_is_read_again_at_each_silence_it_reached(tmp_path):
    """Late readings: only where the service's rule doubts the stop, only at silences the pause
    lasted to, each on the turn's audio up to there (so longer, silence included)."""
    from types import SimpleNamespace

    from voice.end_reading import EndReading
    from voice.turns import TurnPaused

    heard = []

    class Models:
        def end_reading(self, audio, text, prompt=None):
            heard.append(len(audio))
            return EndReading(p_mark=0.6, p_end=0.5)

    audio = np.zeros(16000 * 3, dtype=np.int16)
    t = SimpleNamespace(audio=audio, expecting=None)
    ev = TurnPaused(0, 1, end=1.0, audio=np.zeros(int(1.34 * 16000), dtype=np.int16))
    cache = eval_turns.EvidenceCache(tmp_path / "e.json")
    doubted = Pause(end=1.0, length_ms=800.0, whisper_end=(0.4, 0.5), avg_logprob=-0.2)
    eval_turns.late_reads(doubted, ev, 800.0, t, "I want to move.", Models(), cache, EndOfTurnRule())
    assert set(doubted.late_stop) == {500, 700} and doubted.late_stop[500] == 0.6  # not 900: the caller was back
    assert heard[0] < heard[1] and heard[1] - heard[0] == 0.2 * 16000
    sure = Pause(end=1.0, length_ms=None, whisper_end=(0.95, 0.9), avg_logprob=-0.2)
    eval_turns.late_reads(sure, ev, None, t, "I want to move my delivery to Friday.", Models(), cache, EndOfTurnRule())
    assert sure.late_stop == {} and len(heard) == 2
    final = Pause(end=1.0, length_ms=None, whisper_end=(0.5, 0.5), avg_logprob=-0.2)
    eval_turns.late_reads(final, ev, None, t, "I want to move.", Models(), cache, EndOfTurnRule())
    assert set(final.late_stop) == {500, 700, 900}
    summary = eval_turns.late_summary([TurnResult("t", "tune", "v", "synth", None, pauses=[doubted, sure, final])])
    assert summary["real ends"]["n"] == 1 and summary["inside turns"]["n"] == 1
    assert summary["real ends"]["900ms"] == {"median": 0.6, "sure_pct": 0.0, "n": 1}
    assert summary["inside turns"]["900ms"]["n"] == 0
