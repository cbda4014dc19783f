"""The voice model across speakers and corpora, and the same-words pairs, for `ivr eval frustration`.

Every figure trains on one set of speakers or corpora and is scored on another:

- Polish anger vs neutral, leave one speaker out, **no per-speaker baseline**: the first-turn
  model trained on the other four speakers (as the old figure was), and the shipped recipe
  (the other four plus the synthetic training voices); then the with-baseline model, each clip
  after a random run of the same speaker's other clips (labels unused).
- Cross-corpus: synthetic training voices → Polish; Polish → synthetic test voices; the shipped
  recipe → synthetic test voices (per voice) and → the EmoDB clips (high vs low arousal).
- Calls of one state: each held-out speaker's (or training voice's) clips as three-turn calls, all
  calm or all agitated, judged turn by turn as a call judges them; the AUC at each turn position
  shows whether the caller's own baseline helps or, when it is in the same state, hides them.
- eGeMAPS v02 (openSMILE, when installed) beside the project's first-turn features, same recipe,
  with its cost per turn. Measured, not shipped: on the Polish LOSO it adds +0.020 alone and +0.035
  beside ours, and does not hurt cross-corpus, but it costs ~4x our whole extraction (p95 ~80-160 ms
  on 2-5 s turns on the 2-core box, against the 20 ms a turn may add), so it stays an evaluation row.
- Pairs: each held-out test voice says each held-out three-turn call calmly and agitated; each
  turn is scored by the shipped voice model and fusion weights as a call would (the caller's
  earlier turns as baseline, the words' cues, no dialogue signals), and ``routing.policy.decide``
  judges the call after every turn on the Signals a live call builds (raw, smoothed, per-turn parts).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ivr.tools import synth_speech as ss
from ivr.tools import train_arousal as ta
from ivr.tools import voice_corpora as vc
from ivr.tools.train_frustration import auc
from ivr.tools.voice_corpora import VoiceSample
from voice.arousal import FIRST_TURN_FEATURES, population_features, relative_features

PAIR_MARGIN = 0.15  # the agitated call's mean score must be this much above the calm one's


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _auc(samples: Sequence[VoiceSample], scores: Sequence[float]) -> dict[str, Any]:
    return {"auc": _r(auc([s.agitated for s in samples], scores)), "n": len(samples),
            "n_agitated": sum(s.agitated for s in samples)}


def _first_logits(model, samples):
    return [model.logit(population_features(s.prosody)) for s in samples]


def loso(target: Sequence[VoiceSample], extra: Sequence[VoiceSample] = (), with_baseline: bool = False) -> dict:
    """Leave one speaker of ``target`` out at a time; ``extra`` always trains."""
    scores: list[float] = []
    order: list[VoiceSample] = []
    per: dict[str, float | None] = {}
    for spk in sorted({s.speaker for s in target}):
        train = [s for s in target if s.speaker != spk] + list(extra)
        test = [s for s in target if s.speaker == spk]
        if with_baseline:
            model = ta.fit_relative(train)
            pairs = ta.with_history(test)
            test = [s for s, _ in pairs]
            got = [model.logit(relative_features(s.prosody, h)) for s, h in pairs]
        else:
            got = _first_logits(ta.fit_first(train), test)
        per[spk] = _r(auc([s.agitated for s in test], got))
        scores += got
        order += test
    return {**_auc(order, scores), "per_speaker_auc": per}


def same_state_calls(target: Sequence[VoiceSample], extra: Sequence[VoiceSample] = (), turns: int = 3,
                     seed: int = 0) -> dict:
    """Leave one speaker out; that speaker's clips as calls of ``turns`` turns in one state (all calm or all
    agitated, as most callers are), each turn judged by ``voice.arousal.CallerVoice`` as a live call judges
    it. The AUC of the voice evidence (calm calls vs agitated calls) at each turn position: a model that
    reads a caller only against their own earlier turns loses a caller who was angry from the first word."""
    import copy
    import random

    from voice import arousal

    by_turn: list[tuple[list[bool], list[float]]] = [([], []) for _ in range(turns)]
    for spk in sorted({s.speaker for s in target}):
        model = ta.fit_model([s for s in target if s.speaker != spk] + list(extra))
        for state in (False, True):
            group = [s for s in target if s.speaker == spk and s.agitated == state]
            random.Random(f"{seed}:{spk}:{state}").shuffle(group)
            for i in range(0, len(group) - turns + 1, turns):
                voice = arousal.CallerVoice(model=model)
                for k, s in enumerate(group[i : i + turns]):
                    by_turn[k][0].append(state)
                    by_turn[k][1].append(voice.judge(copy.copy(s.prosody)).arousal)
    return {"turn_auc": [_r(auc(y, x)) for y, x in by_turn], "calls": len(by_turn[0][0]),
            "agitated_calls": sum(by_turn[0][0])}


def cross(train: Sequence[VoiceSample], test: Sequence[VoiceSample], by_voice: bool = False) -> dict:
    model = ta.fit_first(train)
    got = _first_logits(model, test)
    out = _auc(test, got)
    if by_voice:
        out["per_voice_auc"] = {v: _r(auc([s.agitated for s in test if s.speaker == v],
                                          [g for g, s in zip(got, test) if s.speaker == v]))
                                for v in sorted({s.speaker for s in test})}
    return out


def turn_parts(weights, feats: dict[str, float], prosody: dict, signals) -> dict[str, float]:
    """What the words, the voice and the dialogue added to one turn's logit, plus the bias: the split
    the live call stores per turn (``nlu.dialog.TriageDialog._parts``, called here so it cannot drift)."""
    from nlu.dialog import TriageDialog

    d = TriageDialog.__new__(TriageDialog)  # _parts reads only the weights
    d.weights = weights
    return d._parts(feats, prosody, signals)


def policy_decision(call: Mapping[str, Sequence], policy) -> tuple[int, Any] | None:
    """The shipped policy (``routing.policy.decide``) after each turn of a scored call, with the
    frustration Signals the live call builds (``ivr/triage.py``: smoothed, raw and per-turn parts so
    far): the first turn (0-based) at which it transfers and its Decision, or None."""
    from routing.policy import Signals, decide

    parts = list(call.get("parts") or [])
    for i in range(len(call["raw"])):
        d = decide(policy, Signals(frustration=list(call["smoothed"][: i + 1]), frustration_raw=list(call["raw"][: i + 1]),
                                   frustration_parts=parts[: i + 1]))
        if d is not None:
            return i, d
    return None


def score_calls(samples: Sequence[VoiceSample], weights=None, model=None) -> dict[str, dict]:
    """Each pair call's per-turn raw and smoothed frustration and parts, scored as a live call scores it."""
    import copy

    from nlu.embeddings import embed
    from nlu.frustration_text import text_cues
    from nlu.fusion import DialogueSignals, FrustrationWeights, Trajectory, turn_features
    from voice import arousal

    weights = weights or FrustrationWeights.load()
    model = model or arousal.load()
    calls: dict[str, list[VoiceSample]] = defaultdict(list)
    for s in samples:
        calls[s.call].append(s)
    out = {}
    for name, turns in calls.items():
        voice = arousal.CallerVoice(model=model)
        traj = Trajectory(weights.ema_alpha)
        earlier, logits, parts = [], [], []
        for s in turns:
            p = voice.judge(copy.copy(s.prosody))
            logits.append(p.arousal)
            emb = embed([s.text])[0]
            signals = DialogueSignals()
            feats = turn_features(text_cues(s.text, emb, earlier), p.to_dict(), signals)
            traj.add(weights.score(feats))
            parts.append(turn_parts(weights, feats, p.to_dict(), signals))
            earlier.append(emb)
        out[name] = {"raw": [round(x, 4) for x in traj.raw], "smoothed": [round(x, 4) for x in traj.smoothed],
                     "parts": parts, "voice_logits": [round(x, 3) for x in logits]}
    return out


def _trip(call: Mapping[str, Sequence], policy) -> dict[str, Any] | None:
    got = policy_decision(call, policy)
    return None if got is None else {"turn": got[0] + 1, "rule": got[1].rule}


def compare_pairs(calls: Mapping[str, Mapping[str, Sequence]], policy) -> dict:
    """Each ``<voice>/<call>/calm`` beside its ``/agitated``: the mean raw score's gap, and what the policy does."""
    rows = []
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    for name, c in sorted(calls.items()):
        if not name.endswith("/calm"):
            continue
        a = calls.get(name.removesuffix("/calm") + "/agitated")
        if a is None:
            continue
        trip_c, trip_a = _trip(c, policy), _trip(a, policy)
        rows.append({"pair": name.removesuffix("/calm"), "calm_mean": _r(mean(c["raw"])), "agitated_mean": _r(mean(a["raw"])),
                     "difference": _r(mean(a["raw"]) - mean(c["raw"])),
                     "first_turn_difference": _r(a["raw"][0] - c["raw"][0]),
                     "calm_trips_policy": trip_c is not None, "agitated_trips_policy": trip_a is not None,
                     "calm_policy": trip_c, "agitated_policy": trip_a,
                     "calm_max_smoothed": _r(max(c["smoothed"])), "calm": dict(c), "agitated": dict(a)})
    diffs = [r["difference"] for r in rows]
    return {"pairs": rows, "n": len(rows), "margin": PAIR_MARGIN,
            "min_difference": min(diffs) if diffs else None,
            "mean_difference": _r(sum(diffs) / len(diffs)) if diffs else None,
            "pairs_at_margin": sum(d >= PAIR_MARGIN for d in diffs),
            "calm_calls_tripping_policy": sum(r["calm_trips_policy"] for r in rows),
            "agitated_calls_tripping_policy": sum(r["agitated_trips_policy"] for r in rows)}


def pairs(samples: Sequence[VoiceSample], policy, weights=None, model=None) -> dict:
    """The same-words pairs scored as live calls, judged by the shipped policy."""
    return compare_pairs(score_calls(samples, weights, model), policy)


# ---------------------------------------------------------------------------- eGeMAPS beside ours

View = Callable[[VoiceSample], Mapping[str, float]]


def _fit_view(train: Sequence[VoiceSample], view: View, names: tuple[str, ...]):
    """The voice model's logistic recipe (standardised, C = train_arousal.C, balanced) on any features."""
    return ta._fit([view(s) for s in train], [s.agitated for s in train], names, ta.C)


def loso_view(target: Sequence[VoiceSample], view: View, names: tuple[str, ...], extra: Sequence[VoiceSample] = (),
              key: Callable[[VoiceSample], str] = lambda s: s.speaker) -> dict:
    """Leave one speaker (``key``) of ``target`` out at a time, on the features ``view`` gives; ``extra`` always trains."""
    scores: list[float] = []
    order: list[VoiceSample] = []
    per: dict[str, float | None] = {}
    for spk in sorted({key(s) for s in target}):
        model = _fit_view([s for s in target if key(s) != spk] + list(extra), view, names)
        test = [s for s in target if key(s) == spk]
        got = [model.logit(view(s)) for s in test]
        per[spk] = _r(auc([s.agitated for s in test], got))
        scores += got
        order += test
    return {**_auc(order, scores), "per_speaker_auc": per}


def cross_view(train: Sequence[VoiceSample], test: Sequence[VoiceSample], view: View, names: tuple[str, ...]) -> dict:
    model = _fit_view(train, view, names)
    return _auc(test, [model.logit(view(s)) for s in test])


def _turn_costs(samples: Sequence[VoiceSample], n: int = 40) -> dict[str, Any]:
    """ms per turn of eGeMAPS and of our extraction on 1.5-5 s phone-band turns, as the pipeline hears
    them (16 kHz after the 8 kHz band): the clips alone and two joined by a 0.3 s pause, ``n`` spread
    evenly over the lengths."""
    import time

    import numpy as np

    from voice import egemaps, prosody
    from voice.audio import PIPELINE_RATE, read_wav

    clips = [vc.phone_audio(read_wav(s.path)) for s in samples[: 2 * n]]
    gap = np.zeros(int(0.3 * PIPELINE_RATE), dtype=np.int16)
    cands = clips + [np.concatenate([a, gap, b]) for a, b in zip(clips[::2], clips[1::2])]
    cands = sorted((x for x in cands if 1.5 <= len(x) / PIPELINE_RATE <= 5.0), key=len)
    if not cands:
        return {}
    turns = [cands[i] for i in np.linspace(0, len(cands) - 1, min(n, len(cands))).round().astype(int)]
    prosody.warm_up()
    egemaps.functionals(turns[0], PIPELINE_RATE)
    out: dict[str, Any] = {"turns": len(turns), "seconds": [round(len(turns[0]) / PIPELINE_RATE, 2),
                                                              round(len(turns[-1]) / PIPELINE_RATE, 2)]}
    for name, fn in (("egemaps", egemaps.functionals), ("prosody", prosody.extract)):
        ms = []
        for x in turns:
            t0 = time.perf_counter()
            fn(x, PIPELINE_RATE)
            ms.append(1000 * (time.perf_counter() - t0))
        out[name] = {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1)}
    return out


def evaluate_egemaps(cache: Path, polish: Sequence[VoiceSample], train_synth: Sequence[VoiceSample],
                     test_synth: Sequence[VoiceSample], emodb: Sequence[VoiceSample]) -> dict[str, Any]:
    """openSMILE's eGeMAPS v02 functionals beside the project's first-turn features, same recipe, no baseline.

    ``ours`` is the shipped first-turn feature set fitted the same way (no gain jitter, so the two
    differ only in their features); ``both`` is the two sets side by side. The decision rows are
    Polish LOSO and leave-one-training-voice-out; the held-out pair voices are reported, never used.
    """
    from voice import egemaps

    if not egemaps.available():
        return {"available": False}
    samples = [*polish, *train_synth, *test_synth, *emodb]
    fx = dict(zip(map(id, samples), vc.egemaps(samples, cache)))
    eg_names = egemaps.feature_names()
    views: dict[str, tuple[View, tuple[str, ...]]] = {
        "ours": (lambda s: population_features(s.prosody), FIRST_TURN_FEATURES),
        "egemaps": (lambda s: fx[id(s)], eg_names),
        "both": (lambda s: {**population_features(s.prosody), **fx[id(s)]}, FIRST_TURN_FEATURES + eg_names),
    }
    recipe = [*polish, *train_synth]
    out: dict[str, Any] = {"available": True, "features": len(eg_names), "rows": {}}
    for name, (view, names) in views.items():
        row = {"polish_loso": loso_view(polish, view, names),
               "training_voices_lovo": loso_view(train_synth, view, names),
               "cross_synth_to_polish": cross_view(train_synth, polish, view, names),
               "cross_polish_to_synth_test": cross_view(polish, test_synth, view, names),
               "shipped_recipe_to_synth_test": cross_view(recipe, test_synth, view, names)}
        if len({s.agitated for s in emodb}) == 2:
            row["shipped_recipe_to_emodb"] = cross_view(recipe, emodb, view, names)
        out["rows"][name] = row
    out["cost_per_turn"] = _turn_costs(train_synth)
    return out


def evaluate_voice(cache: Path, models=None, test_voices=ss.TEST_VOICES, calls=ss.PAIR_CALLS,
                   policy=None, egemaps: bool = True) -> dict[str, Any]:
    """Every condition above; needs ``<cache>/polish`` (and uses ``<cache>/emodb`` if fetched; eGeMAPS if
    opensmile is installed and ``egemaps``).
    ``policy``: a ``routing.policy.Policy`` or its YAML mapping (default: the shipped policy file)."""
    from routing.policy import Policy, load_policy

    if models is None:
        from voice.models import shared_models

        models = shared_models()
    if policy is None:
        policy = load_policy()
    elif not isinstance(policy, Policy):
        policy = Policy.from_dict(policy)
    polish = vc.polish(cache)
    train_synth = vc.synth_train(cache, models)
    test_synth = vc.synth_pairs(cache, models, test_voices, calls)
    emodb = vc.emodb(cache)
    recipe = polish + train_synth
    out: dict[str, Any] = {
        "training": ta.describe(recipe),
        "test": ta.describe(test_synth),
        "polish_loso_first_turn": loso(polish),
        "polish_loso_first_turn_shipped_recipe": loso(polish, train_synth),
        "polish_loso_with_baseline": loso(polish, train_synth, with_baseline=True),
        "cross_synth_to_polish": cross(train_synth, polish),
        "cross_polish_to_synth_test": cross(polish, test_synth),
        "shipped_recipe_to_synth_test": cross(recipe, test_synth, by_voice=True),
    }
    if len({s.agitated for s in emodb}) == 2:
        out["shipped_recipe_to_emodb"] = cross(recipe, emodb)
    out["polish_same_state_calls"] = same_state_calls(polish, train_synth)
    out["training_voices_same_state_calls"] = same_state_calls(train_synth, polish)
    if egemaps:
        out["egemaps"] = evaluate_egemaps(cache, polish, train_synth, test_synth, emodb)
    out["pairs"] = pairs(test_synth, policy)
    return out


_EG_ROWS = (("polish_loso", "Polish, no baseline, LOSO"),
            ("training_voices_lovo", "synthetic training voices, leave one voice out"),
            ("cross_synth_to_polish", "synthetic training -> Polish"),
            ("cross_polish_to_synth_test", "Polish -> held-out synthetic voices"),
            ("shipped_recipe_to_synth_test", "Polish + synthetic training -> held-out voices"),
            ("shipped_recipe_to_emodb", "Polish + synthetic training -> EmoDB"))


def format_egemaps(e: dict[str, Any] | None) -> list[str]:
    if not e:
        return []
    if not e.get("available"):
        return ["  eGeMAPS: opensmile not installed (pip install opensmile) - not measured"]
    rows = e["rows"]
    lines = [f"  eGeMAPS v02 ({e['features']} functionals, opensmile) beside ours, same logistic recipe, first turn:",
             f"      {'condition':50s} {'ours':>6s} {'eGeMAPS':>7s} {'both':>6s}"]
    f = lambda m: "   -  " if m is None or m.get("auc") is None else f"{m['auc']:6.3f}"  # noqa: E731
    for key, label in _EG_ROWS:
        if key in rows["ours"]:
            lines.append(f"      {label:50s} {f(rows['ours'][key])} {f(rows['egemaps'][key]):>7s} {f(rows['both'][key])}")
    c = e.get("cost_per_turn") or {}
    if c:
        lines.append(f"      cost per turn ({c['turns']} turns of {c['seconds'][0]}-{c['seconds'][1]} s): eGeMAPS p50 "
                     f"{c['egemaps']['p50_ms']} ms p95 {c['egemaps']['p95_ms']} ms; ours p50 {c['prosody']['p50_ms']} ms "
                     f"p95 {c['prosody']['p95_ms']} ms")
    return lines


def format_voice(v: dict[str, Any]) -> list[str]:
    f = lambda m: "   -  " if m.get("auc") is None else f"{m['auc']:6.3f}"  # noqa: E731
    lines = [f"Voice model across speakers and corpora (trains: {v['training']})",
             f"  {'condition':70s} {'AUC':>6s}    n"]
    rows = [
        ("polish_loso_first_turn", "Polish anger/neutral, no baseline, LOSO: trained on the other 4 speakers"),
        ("polish_loso_first_turn_shipped_recipe", "  same, trained on the other 4 + synthetic training voices"),
        ("polish_loso_with_baseline", "Polish, with the speaker's earlier clips as baseline, LOSO"),
        ("cross_synth_to_polish", "cross-corpus: synthetic training voices -> Polish"),
        ("cross_polish_to_synth_test", "cross-corpus: Polish -> held-out synthetic voices"),
        ("shipped_recipe_to_synth_test", "Polish + synthetic training -> held-out synthetic voices"),
        ("shipped_recipe_to_emodb", "Polish + synthetic training -> EmoDB (high vs low arousal)"),
    ]
    for key, label in rows:
        if key in v:
            lines.append(f"  {label:70s} {f(v[key])} {v[key]['n']:4d}")
    per = v["shipped_recipe_to_synth_test"].get("per_voice_auc", {})
    lines.append("      per held-out voice: " + ", ".join(f"{k}:{x:.2f}" for k, x in per.items() if x is not None))
    for key, label in (("polish_same_state_calls", "Polish, calls of one state (3 clips), LOSO"),
                       ("training_voices_same_state_calls", "synthetic training voices, calls of one state, leave one voice out")):
        if key in v:
            t = " ".join("   -  " if a is None else f"{a:6.3f}" for a in v[key]["turn_auc"])
            lines.append(f"  {label + ': AUC at turn 1 2 3':70s} {t} ({v[key]['calls']} calls)")
    lines += format_egemaps(v.get("egemaps"))
    p = v["pairs"]
    if p["n"]:
        lines.append(f"  same-words pairs ({p['n']}, held-out voices and sentences): agitated minus calm mean score "
                     f"min {p['min_difference']:+.3f}, mean {p['mean_difference']:+.3f}; "
                     f"{p['pairs_at_margin']}/{p['n']} at >= {p['margin']}")
        lines.append(f"      calm calls the policy would transfer: {p['calm_calls_tripping_policy']}/{p['n']}; "
                     f"agitated calls it would: {p['agitated_calls_tripping_policy']}/{p['n']}")
        for r in p["pairs"]:
            lines.append(f"      {r['pair']:42s} calm {r['calm_mean']:.3f}  agitated {r['agitated_mean']:.3f}  "
                         f"diff {r['difference']:+.3f} (first turn {r['first_turn_difference']:+.3f})")
    return lines
