"""`ivr.tools.eval_voice`'s pure pieces on small hand-made inputs: the pairs table, the shipped
policy's verdict on a scored call, and the AUC helpers (leave one speaker out, cross-corpus)."""

from __future__ import annotations

import random

import pytest

from ivr.tools import eval_voice as ev
from routing.policy import Policy, load_policy

QUIET = {"text": 0.0, "prosody": 0.0, "dialogue": 0.0, "bias": -3.0}


def _call(raw, smoothed=None, parts=None):
    return {"raw": list(raw), "smoothed": list(smoothed if smoothed is not None else raw),
            "parts": list(parts if parts is not None else [QUIET] * len(raw))}


def test_calm_call_does_not_trip_the_policy():
    assert ev.policy_decision(_call([0.1, 0.2, 0.3]), Policy()) is None


def test_two_smoothed_turns_at_the_threshold_trip_on_the_second():
    turn, d = ev.policy_decision(_call([0.5, 0.7, 0.7], smoothed=[0.5, 0.62, 0.66]), Policy())
    assert turn == 2 and d.reason == "frustration" and d.rule == "frustration >= 0.6 for 2 turns"


def test_one_turn_at_the_ceiling_on_the_voice_alone_waits_for_the_two_turn_rule():
    voice_only = {"text": 0.0, "prosody": 5.0, "dialogue": 0.0, "bias": -3.0}  # sigmoid(2) = 0.88
    call = _call([0.88, 0.1], smoothed=[0.5, 0.3], parts=[voice_only, QUIET])
    assert ev.policy_decision(call, Policy()) is None
    # the same turn with the words agreeing holds up without its strongest part: transfers at once
    both = {"text": 2.0, "prosody": 5.0, "dialogue": 0.0, "bias": -1.0}
    turn, d = ev.policy_decision(_call([0.997], smoothed=[0.5], parts=[both]), Policy())
    assert turn == 0 and "without its strongest part" in d.rule
    # with corroboration off (or no parts known) the ceiling alone transfers, as before
    assert ev.policy_decision(call, Policy(frustration_corroborate=False))[0] == 0
    assert ev.policy_decision({"raw": [0.88], "smoothed": [0.5]}, Policy())[0] == 0


def test_compare_pairs_on_hand_made_calls():
    calls = {
        "v1/orders/calm": _call([0.1, 0.1, 0.1]),
        "v1/orders/agitated": _call([0.3, 0.4, 0.5]),
        "v2/orders/calm": _call([0.2, 0.2]),
        "v2/orders/agitated": _call([0.7, 0.9], smoothed=[0.6, 0.75]),
        "v3/orders/calm": _call([0.2]),  # no agitated twin: not a pair
    }
    out = ev.compare_pairs(calls, Policy())
    assert out["n"] == 2 and [r["pair"] for r in out["pairs"]] == ["v1/orders", "v2/orders"]
    r1, r2 = out["pairs"]
    assert r1["difference"] == pytest.approx(0.3) and r1["first_turn_difference"] == pytest.approx(0.2)
    assert r2["difference"] == pytest.approx(0.6) and r2["calm_max_smoothed"] == 0.2
    assert not r1["agitated_trips_policy"] and r1["agitated_policy"] is None
    # 0.7 then 0.9: the ceiling, heard on the turn after one at the threshold (before the two-turn rule)
    assert r2["agitated_trips_policy"] and r2["agitated_policy"] == {
        "turn": 2, "rule": "frustration ceiling: one turn >= 0.85 after one >= 0.6"}
    assert out["pairs_at_margin"] == 2 and out["min_difference"] == pytest.approx(0.3)
    assert out["mean_difference"] == pytest.approx(0.45)
    assert out["calm_calls_tripping_policy"] == 0 and out["agitated_calls_tripping_policy"] == 1


def test_compare_pairs_follows_the_policy_it_is_given():
    calls = {"v/c/calm": _call([0.5, 0.5]), "v/c/agitated": _call([0.5, 0.5])}
    assert ev.compare_pairs(calls, Policy(frustration_threshold=0.4))["calm_calls_tripping_policy"] == 1
    assert ev.compare_pairs(calls, load_policy())["calm_calls_tripping_policy"] == 0


def test_turn_parts_is_the_live_split():
    from nlu.fusion import DialogueSignals, FrustrationWeights, TextCues, turn_features

    w = FrustrationWeights.load()
    prosody = {"arousal_logit": 2.0}
    signals = DialogueSignals(no_match_count=2)
    feats = turn_features(TextCues(), prosody, signals)
    parts = ev.turn_parts(w, feats, prosody, signals)
    assert set(parts) == {"text", "prosody", "dialogue", "bias"} and parts["bias"] == round(w.bias, 3)
    assert parts["prosody"] > 0 and parts["dialogue"] > 0 and parts["text"] == 0
    assert sum(parts.values()) == pytest.approx(w.bias + sum(w.contributions(feats).values()), abs=0.01)


def test_auc_helpers_on_separable_speakers(make_voice_sample):
    rng = random.Random(1)
    target = [make_voice_sample(spk, i % 2 == 1, rng) for spk in ("a", "b", "c") for i in range(12)]
    out = ev.loso(target)
    assert out["n"] == 36 and out["n_agitated"] == 18 and set(out["per_speaker_auc"]) == {"a", "b", "c"}
    assert out["auc"] > 0.9 and all(v > 0.9 for v in out["per_speaker_auc"].values())
    test = [make_voice_sample(spk, i % 2 == 1, rng, "d") for spk in ("x", "y") for i in range(6)]
    got = ev.cross(target, test, by_voice=True)
    assert got["auc"] > 0.9 and set(got["per_voice_auc"]) == {"x", "y"}
    # one class only: no AUC, not a crash
    assert ev._auc(test[:1], [0.3])["auc"] is None


def test_loso_and_cross_on_any_features(make_voice_sample):
    rng = random.Random(2)
    target = [make_voice_sample(spk, i % 2 == 1, rng) for spk in ("a", "b", "c") for i in range(10)]
    pitch = lambda s: {"hz": s.prosody.pitch_median_hz, "noise": rng.random()}  # noqa: E731
    out = ev.loso_view(target, pitch, ("hz", "noise"))
    assert out["auc"] > 0.9 and set(out["per_speaker_auc"]) == {"a", "b", "c"} and out["n"] == 30
    # leave a corpus out instead of a speaker: the key decides what is held out
    other = [make_voice_sample("z", i % 2 == 1, rng, "e") for i in range(10)]
    by_corpus = ev.loso_view(target + other, pitch, ("hz", "noise"), key=lambda s: s.corpus)
    assert set(by_corpus["per_speaker_auc"]) == {"c", "e"}
    assert ev.cross_view(target, other, pitch, ("hz",))["auc"] > 0.75  # pitch alone, 1 st of noise on a 4 st lift
    blind = ev.cross_view(target, other, lambda s: {"noise": 0.0}, ("noise",))
    assert blind["auc"] == pytest.approx(0.5)


def test_same_state_calls_score_each_turn_position(make_voice_sample):
    rng = random.Random(3)
    target = [make_voice_sample(spk, i % 2 == 1, rng) for spk in ("a", "b", "c") for i in range(12)]
    out = ev.same_state_calls(target, turns=3)
    assert out["calls"] == 3 * 2 * 2 and out["agitated_calls"] == 6  # 6 clips per state and speaker: 2 calls
    assert len(out["turn_auc"]) == 3 and all(a > 0.8 for a in out["turn_auc"])


def test_egemaps_rows_are_formatted_or_said_missing():
    assert ev.format_egemaps(None) == []
    assert "not installed" in ev.format_egemaps({"available": False})[0]
    row = {"polish_loso": {"auc": 0.9}, "cross_synth_to_polish": {"auc": None}}
    e = {"available": True, "features": 88, "rows": {"ours": row, "egemaps": row, "both": row},
         "cost_per_turn": {"turns": 2, "seconds": [1.5, 5.0], "egemaps": {"p50_ms": 60.0, "p95_ms": 80.0},
                           "prosody": {"p50_ms": 9.0, "p95_ms": 14.0}}}
    lines = ev.format_egemaps(e)
    assert any("Polish, no baseline, LOSO" in x and "0.900" in x for x in lines)
    assert any("-> Polish" in x and "-" in x for x in lines) and "p95 80.0 ms" in lines[-1]
