"""`ivr eval frustration`: how well the frustration score separates frustrated from calm turns.

Two evaluations, each with what it can and cannot say:

1. **Prosody on real emotional speech** (the Polish set of Mięsikowska & Świsulski 2020, from
   the nkululeko sdist: ``scripts/fetch_eval_data.sh``). Anger vs neutral, acted, single
   words, 5 male speakers: it tests the prosody side only, and only what survives the
   telephone. Every clip goes through the phone band first (8 kHz G.711 µ-law round trip, back
   to 16 kHz), then ``voice.prosody.extract``. Each clip is expressed against its own
   speaker's baseline with the production ``CallerBaseline`` (z-scores against that speaker's
   other clips, label-free: no held-out label is ever used). A logistic regression over the
   five z-scores is fitted on training speakers only and scored on held-out speakers: the
   set's own split (speaker-independent: checked) and leave-one-speaker-out over all five.
   Beside it, the shipped fusion weights' prosody part, with no refit.
   Then the voice model (``voice.arousal``, ``ivr.tools.eval_voice``): per speaker and across corpora,
   without and with a baseline, and the synthesized same-words pairs through the shipped fusion.
2. **Text and fusion on the project's labelled English caller turns**
   (``nlu/data/caller_turns_labelled.yaml``): the text-only part of the shipped score, the
   fused score with neutral prosody (z = 0; the dialogue signals in the file do count), and
   the cross-validated AUC of re-fitting the weights on these turns (``ivr train frustration``).

AUC is threshold-free; F1 is at the score 0.5 (the logistic model's decision point).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from ivr.tools.polish_corpus import (  # noqa: F401  (re-exported: the corpus's names, as before)
    DEFAULT_CACHE, NEGATIVE, POSITIVE, Clip, MissingData, default_cache, load_polish, phone_prosody)
from ivr.tools.train_frustration import DEFAULT_TURNS_PATH, TurnsError, auc, f1, featurise, load_turns, refit

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JSON = ROOT / "bench-results" / "eval_frustration.json"


def normalise_per_speaker(clips: Sequence[Clip], mode: str = "speaker", seed: int = 0) -> None:
    """Fill each clip's z-scores with the production ``CallerBaseline``, per speaker, label-free.

    ``speaker``: each clip against all the same speaker's *other* clips (every emotion, labels
    unused), like a caller well into a call. ``running``: the speaker's clips in a seeded random
    order, each against only the earlier ones, as a live call does turn by turn (the first
    clips have little or no baseline).
    """
    import copy

    from voice.prosody import CallerBaseline

    by_speaker: dict[str, list[Clip]] = {}
    for c in clips:
        by_speaker.setdefault(c.speaker, []).append(c)
    for spk, group in sorted(by_speaker.items()):
        if mode == "running":
            order = list(group)
            random.Random(f"{seed}:{spk}").shuffle(order)
            b = CallerBaseline()
            for c in order:
                c.z = dict(b.normalise(copy.copy(c.prosody)).z)
        elif mode == "speaker":
            for c in group:
                b = CallerBaseline()
                b.history = [o.prosody for o in group if o is not c]
                c.z = dict(b.normalise(copy.copy(c.prosody)).z)
        else:
            raise ValueError(f"unknown baseline mode {mode!r}")


def _voice_dict(c: Clip) -> dict[str, float]:
    """The turn's prosody dict as the call pipeline hands it to the NLU."""
    d = {k: float(getattr(c.prosody, k)) for k in ("pitch_median_hz", "pitch_range_st", "energy_db",
                                                    "speaking_rate_sps", "pause_ratio")}
    d.update({f"{k}_z": float(v) for k, v in c.z.items()})
    if c.prosody.arousal is not None:
        d["arousal_logit"] = float(c.prosody.arousal)
    return d


def _zvec(c: Clip) -> list[float]:
    from nlu.fusion import VOICE_PROSODY_KEYS

    d = _voice_dict(c)
    return [d.get(k, 0.0) for k in VOICE_PROSODY_KEYS]


def _rawvec(c: Clip) -> list[float]:
    p = c.prosody
    return [p.pitch_median_hz, p.pitch_range_st, p.energy_db, p.speaking_rate_sps, p.pause_ratio]


def _fit_predict(train: Sequence[Clip], test: Sequence[Clip], vec=_zvec) -> list[float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = [vec(c) for c in train]
    y = [int(c.emotion == POSITIVE) for c in train]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(x, y)
    return [float(p) for p in model.predict_proba([vec(c) for c in test])[:, 1]]


def _metrics(test: Sequence[Clip], scores: Sequence[float]) -> dict[str, Any]:
    y = [c.emotion == POSITIVE for c in test]
    return {"auc": _r(auc(y, scores)), "f1": _r(f1(y, scores)), "n": len(test), "n_anger": sum(y)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def evaluate_polish(cache: Path, baseline: str = "speaker", weights_path: Path | None = None,
                    seed: int = 0) -> dict[str, Any]:
    """The prosody evaluation on ``<cache>/polish`` (a real or a synthetic set of that layout)."""
    from nlu.frustration_text import TextCues
    from nlu.fusion import DEFAULT_WEIGHTS_PATH, DialogueSignals, FrustrationWeights, turn_features
    from voice import prosody

    t0 = time.perf_counter()
    clips = load_polish(cache)
    prosody.warm_up()
    from voice.arousal import load as load_voice_model

    voice_model = load_voice_model()
    for c in clips:
        c.prosody = phone_prosody(c.path)
        c.prosody.arousal = voice_model.log_odds(c.prosody)  # first-turn model (in-sample: it trained on this set)
    t_extract = time.perf_counter() - t0
    normalise_per_speaker(clips, baseline, seed)
    scored = [c for c in clips if c.emotion in (POSITIVE, NEGATIVE)]
    speakers = sorted({c.speaker for c in scored})
    shipped = FrustrationWeights.load(weights_path or DEFAULT_WEIGHTS_PATH)

    def fused_prosody(c: Clip) -> float:  # text and dialogue absent: the prosody part alone
        return shipped.score(turn_features(TextCues(), _voice_dict(c), DialogueSignals()))

    out: dict[str, Any] = {
        "data": str(cache / "polish"),
        "clips": len(clips),
        "scored_clips": len(scored),
        "speakers": speakers,
        "task": f"{POSITIVE} vs {NEGATIVE}",
        "audio": "telephone band: 8 kHz G.711 mu-law round trip, back to 16 kHz",
        "baseline": baseline,
        "features": ["pitch_median_hz_z", "pitch_range_st_z", "energy_db_z", "speaking_rate_sps_z", "pause_ratio_z"],
        "extract_seconds": round(t_extract, 2),
    }

    # the set's own split, if it has one and it is speaker-independent
    splits: dict[str, set[str]] = {}
    for c in scored:
        for part in filter(None, c.split.split("+")):
            splits.setdefault(part, set()).add(c.speaker)
    own: dict[str, Any] = {"present": bool(splits)}
    if splits:
        names = sorted(splits)
        overlap = sorted({s for a in names for b in names if a < b for s in splits[a] & splits[b]})
        own.update({"speakers": {k: sorted(v) for k, v in splits.items()}, "speaker_independent": not overlap,
                    "shared_speakers": overlap})
        train = [c for c in scored if c.split == "train"]
        held = [c for c in scored if c.split in ("dev", "test")]
        if not overlap and train and held:
            pred = dict(zip(map(id, held), _fit_predict(train, held)))
            own["logreg"] = {part: _metrics(g, [pred[id(c)] for c in g])
                             for part in ("dev", "test") if (g := [c for c in held if c.split == part])}
            own["logreg"]["dev+test"] = _metrics(held, [pred[id(c)] for c in held])
            own["fused_prosody_shipped"] = {"dev+test": _metrics(held, [fused_prosody(c) for c in held])}
    out["own_split"] = own

    # leave one speaker out, over every speaker
    if len(speakers) >= 2:
        pooled: list[float] = []
        order: list[Clip] = []
        per: dict[str, Any] = {}
        for spk in speakers:
            test = [c for c in scored if c.speaker == spk]
            train = [c for c in scored if c.speaker != spk]
            p = _fit_predict(train, test)
            per[spk] = _metrics(test, p)["auc"]
            pooled += p
            order += test
        raw_pooled: list[float] = []
        for spk in speakers:  # the same model on absolute values: what the per-speaker baseline buys
            test = [c for c in scored if c.speaker == spk]
            raw_pooled += _fit_predict([c for c in scored if c.speaker != spk], test, vec=_rawvec)
        aucs = [a for a in per.values() if a is not None]
        out["loso"] = {
            "logreg": {**_metrics(order, pooled), "per_speaker_auc": per,
                       "mean_speaker_auc": _r(sum(aucs) / len(aucs)) if aucs else None},
            "logreg_raw_features": _metrics(order, raw_pooled),
        }
    all_fused = [fused_prosody(c) for c in scored]
    per_fused = {}
    for spk in speakers:
        g = [c for c in scored if c.speaker == spk]
        per_fused[spk] = _metrics(g, [fused_prosody(c) for c in g])["auc"]
    ang = [s for s, c in zip(all_fused, scored) if c.emotion == POSITIVE]
    neu = [s for s, c in zip(all_fused, scored) if c.emotion == NEGATIVE]
    out["fused_prosody_shipped"] = {**_metrics(scored, all_fused), "per_speaker_auc": per_fused,
                                    "mean_score_anger": _r(sum(ang) / len(ang)),
                                    "mean_score_neutral": _r(sum(neu) / len(neu)), "max_score": _r(max(all_fused)),
                                    "weights": str(weights_path or DEFAULT_WEIGHTS_PATH), "refit": False}
    # each z-score alone, for reading the shipped weights' signs against the data
    from nlu.fusion import VOICE_PROSODY_KEYS

    y = [c.emotion == POSITIVE for c in scored]
    out["single_feature_auc"] = {k: _r(auc(y, [_voice_dict(c).get(k, 0.0) for c in scored])) for k in VOICE_PROSODY_KEYS}
    return out


# ---------------------------------------------------------------------------- English turns


def evaluate_turns(path: Path, weights_path: Path | None = None, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    from nlu.fusion import DEFAULT_WEIGHTS_PATH, FrustrationWeights

    turns = load_turns(path)
    feats = featurise(turns)
    y = [t.frustrated for t in turns]
    w = FrustrationWeights.load(weights_path or DEFAULT_WEIGHTS_PATH)
    text_only = FrustrationWeights(w.bias, {k: v for k, v in w.weights.items() if k.startswith("text_")})
    s_text = [text_only.score(f) for f in feats]
    s_fused = [w.score(f) for f in feats]  # prosody absent → z = 0; dialogue from the file

    # cross-validated re-fit: stratified folds, each scored by weights fitted on the others
    idx_pos = [i for i, v in enumerate(y) if v]
    idx_neg = [i for i, v in enumerate(y) if not v]
    rng = random.Random(seed)
    rng.shuffle(idx_pos)
    rng.shuffle(idx_neg)
    k = max(2, min(folds, len(idx_pos), len(idx_neg)))
    fold_of = {i: n % k for n, i in enumerate(idx_pos)} | {i: n % k for n, i in enumerate(idx_neg)}
    cv = [0.0] * len(turns)
    fold_aucs = []
    for fold in range(k):
        tr = [i for i in range(len(turns)) if fold_of[i] != fold]
        te = [i for i in range(len(turns)) if fold_of[i] == fold]
        wf = refit([feats[i] for i in tr], [y[i] for i in tr], w)
        for i in te:
            cv[i] = wf.score(feats[i])
        fold_aucs.append(auc([y[i] for i in te], [cv[i] for i in te]))
    fa = [a for a in fold_aucs if a is not None]
    n_dialogue = sum(1 for t in turns if t.dialogue != type(t.dialogue)())
    cued = [any(v >= 0.5 for k, v in f.items() if k.startswith("text_")) for f in feats]
    n_pos = sum(y)
    return {
        "data": str(path),
        "turns": len(turns),
        "frustrated": sum(y),
        "turns_with_dialogue_signals": n_dialogue,
        "weights": str(weights_path or DEFAULT_WEIGHTS_PATH),
        "text_only_shipped": {"auc": _r(auc(y, s_text)), "f1": _r(f1(y, s_text))},
        "fused_shipped_neutral_prosody": {"auc": _r(auc(y, s_fused)), "f1": _r(f1(y, s_fused))},
        # how often any text cue fires at >= 0.5: the ceiling the text side works under
        "any_text_cue": {"frustrated": _r(sum(c for c, v in zip(cued, y) if v) / max(1, n_pos)),
                         "calm": _r(sum(c for c, v in zip(cued, y) if not v) / max(1, len(y) - n_pos))},
        "refit_cv": {"folds": k, "auc": _r(auc(y, cv)), "f1": _r(f1(y, cv)),
                     "mean_fold_auc": _r(sum(fa) / len(fa)) if fa else None},
    }


# ---------------------------------------------------------------------------- report


def _f(x: Any) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


def format_table(res: dict[str, Any]) -> str:
    lines = ["frustration evaluation", ""]
    pol = res.get("polish")
    if pol:
        lines.append(f"Prosody, {pol['task']}, {pol['scored_clips']} clips of {len(pol['speakers'])} speakers "
                     f"({pol['audio'].split(':')[0]}; baseline: {pol['baseline']})")
        lines.append(f"  {'model':62s} {'AUC':>6s} {'F1':>6s}   n")
        own = pol["own_split"]
        if own.get("logreg"):
            sp = own["speakers"]
            for part, m in own["logreg"].items():
                who = ",".join(sorted(set().union(*(sp.get(x, set()) for x in part.split("+")))))
                lines.append(f"  {'logreg on z, own split, train -> ' + part + ' (' + who + ')':62s} "
                             f"{_f(m['auc'])} {_f(m['f1'])} {m['n']:4d}")
        elif own.get("present"):
            lines.append(f"  own split not speaker-independent (shared: {own.get('shared_speakers')}): not used")
        if "loso" in pol:
            m = pol["loso"]["logreg"]
            lines.append(f"  {'logreg on z, leave-one-speaker-out (pooled)':62s} {_f(m['auc'])} {_f(m['f1'])} {m['n']:4d}")
            per = ", ".join(f"{k}:{v:.2f}" for k, v in m["per_speaker_auc"].items() if v is not None)
            lines.append(f"      per held-out speaker AUC: {per}")
            m = pol["loso"]["logreg_raw_features"]
            lines.append(f"  {'logreg on absolute values (no baseline), LOSO':62s} {_f(m['auc'])} {_f(m['f1'])} {m['n']:4d}")
        m = pol["fused_prosody_shipped"]
        lines.append(f"  {'shipped fusion, voice part (first-turn model, in-sample), all':62s} {_f(m['auc'])} {_f(m['f1'])} {m['n']:4d}")
        lines.append(f"      its score: mean {m['mean_score_anger']:.3f} on anger, {m['mean_score_neutral']:.3f} on neutral, "
                     f"max {m['max_score']:.3f} (text and dialogue absent)")
        if own.get("fused_prosody_shipped"):
            m = own["fused_prosody_shipped"]["dev+test"]
            lines.append(f"  {'shipped fusion weights, prosody part, own dev+test':62s} {_f(m['auc'])} {_f(m['f1'])} {m['n']:4d}")
        single = ", ".join(f"{k.removesuffix('_z')}:{v:.2f}" for k, v in pol["single_feature_auc"].items() if v is not None)
        lines.append(f"      single z-score AUC: {single}")
        lines.append("")
    if res.get("voice"):
        from ivr.tools.eval_voice import format_voice

        lines += format_voice(res["voice"]) + [""]
    tr = res.get("turns")
    if tr:
        lines.append(f"Text and fusion, {tr['turns']} labelled English caller turns ({tr['frustrated']} frustrated)")
        lines.append(f"  {'score':62s} {'AUC':>6s} {'F1':>6s}")
        for key, label in (("text_only_shipped", "text part of the shipped weights"),
                           ("fused_shipped_neutral_prosody", "fused, shipped weights, prosody z = 0 (+ dialogue)"),
                           ("refit_cv", f"fit_weights re-fitted, {tr['refit_cv']['folds']}-fold cross-validated")):
            m = tr[key]
            lines.append(f"  {label:62s} {_f(m['auc'])} {_f(m['f1'])}")
        cue = tr["any_text_cue"]
        lines.append(f"      a text cue >= 0.5 fires on {cue['frustrated']:.0%} of frustrated and {cue['calm']:.0%} of calm turns")
        lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    prog = "ivr eval frustration"
    cache = Path(getattr(args, "cache", None) or default_cache())
    turns_path = Path(getattr(args, "turns", None) or DEFAULT_TURNS_PATH)
    weights = getattr(args, "weights", None)
    weights = Path(weights) if weights else None
    baseline = getattr(args, "baseline", None) or "speaker"
    json_path = getattr(args, "json", None)
    json_path = Path(json_path) if json_path else DEFAULT_JSON
    t0 = time.perf_counter()
    try:
        polish = evaluate_polish(cache, baseline=baseline, weights_path=weights)
    except MissingData as exc:
        print(f"{prog}: {exc}; run scripts/fetch_eval_data.sh first (or set IVR_EVAL_CACHE)", file=sys.stderr)
        return 2
    voice = None
    if getattr(args, "voice", True):
        from ivr.tools.eval_voice import evaluate_voice

        voice = evaluate_voice(cache, egemaps=getattr(args, "egemaps", True))
    try:
        turns = evaluate_turns(turns_path, weights_path=weights)
    except TurnsError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    res = {
        "polish": polish,
        **({"voice": voice} if voice is not None else {}),
        "turns": turns,
        "meta": {"python": platform.python_version(), "machine": platform.machine(),
                 "seconds": round(time.perf_counter() - t0, 2), "threshold_f1": 0.5},
    }
    print(format_table(res))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {json_path}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--json", default=str(DEFAULT_JSON), help="write the figures here (default: %(default)s)")
    p.add_argument("--cache", default=None,
                   help="evaluation data from scripts/fetch_eval_data.sh (default: $IVR_EVAL_CACHE or cache/eval)")
    p.add_argument("--turns", default=str(DEFAULT_TURNS_PATH), help="labelled English caller turns (.yaml/.jsonl)")
    p.add_argument("--weights", default=None, help="fusion weights to evaluate (default: the shipped file)")
    p.add_argument("--no-voice", dest="voice", action="store_false",
                   help="skip the voice model's cross-corpus figures and the synthesized same-words pairs")
    p.add_argument("--no-egemaps", dest="egemaps", action="store_false",
                   help="skip the eGeMAPS (opensmile) condition beside the voice model's own features")
    p.add_argument("--baseline", choices=("speaker", "running"), default="speaker",
                   help="per-speaker prosody baseline: all the speaker's other clips, or only earlier ones")
    return p


def main(argv: Iterable[str] | None = None) -> int:
    p = add_arguments(argparse.ArgumentParser(prog="ivr eval frustration", description=__doc__.splitlines()[0]))
    return run(p.parse_args(None if argv is None else list(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
