"""`ivr train frustration`: re-fit the frustration weights from labelled caller turns.

Input is the project's hand-labelled turns (``nlu/data/caller_turns_labelled.yaml``) or
agents' dispositions exported one JSON object a line::

    {"text": "...", "prosody": {...}, "dialogue": {...}, "frustrated": true}

``prosody`` holds the voice pipeline's per-turn dict (``pitch_median_hz_z``, ``energy_db_z``...,
see ``nlu.fusion.VOICE_PROSODY_KEYS``), ``dialogue`` the fields of ``nlu.fusion.DialogueSignals``
and an optional ``previous`` list holds the caller's earlier turns (for the repetition cue).

A feature that never varies in the labelled turns (prosody when the turns are text only) says
nothing about its weight, so it keeps the weight it has now instead of being zeroed: re-fitting
on text-only turns leaves the prosody weights as they were.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from nlu.fusion import DEFAULT_WEIGHTS_PATH, FEATURES, DialogueSignals, FrustrationWeights

DEFAULT_TURNS_PATH = Path(__file__).resolve().parents[2] / "nlu" / "data" / "caller_turns_labelled.yaml"
_DIALOGUE_FIELDS = {f.name: f.type for f in dataclasses.fields(DialogueSignals)}
MIN_PER_CLASS = 2


class TurnsError(ValueError):
    """A labelled-turns file that cannot be used (the message is one line for the user)."""


@dataclass
class LabelledText:
    """One labelled caller turn as read from a file, before featurisation."""

    text: str
    frustrated: bool
    prosody: dict[str, float] = field(default_factory=dict)
    dialogue: DialogueSignals = field(default_factory=DialogueSignals)
    previous: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- reading


LABELLED_TURNS_PER_CALL = 2  # the caller's last turns before the hand-off: what the agent judged


def disposition_records(store) -> list[dict[str, Any]]:
    """Agents' dispositions as labelled turns (the ``.jsonl`` records above).

    An agent says whether the caller was frustrated when they reached them; that labels the
    caller's last turns with the bot, which are what the frustration score saw before the
    hand-off. Earlier turns stay unlabelled: the agent did not hear them. With no answer to that
    question, the reason tag ``frustrated_caller`` counts as yes and any other as no.
    """
    records = []
    for d in store.accounts.dispositions():
        call = store.get_call(d["call_id"])
        turns = [t for t in (call or {}).get("turns", []) if t.get("text")]
        if not turns:
            continue
        frustrated = d["caller_frustrated"] if d["caller_frustrated"] is not None else d["reason_tag"] == "frustrated_caller"
        first = max(0, len(turns) - LABELLED_TURNS_PER_CALL)
        for i in range(first, len(turns)):
            t = turns[i]
            prosody = {k: float(v) for k, v in (t.get("prosody") or {}).items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
            records.append({"text": t["text"], "frustrated": bool(frustrated), "prosody": prosody,
                            "dialogue": {"barge_in": bool(t.get("barge_in"))},
                            "previous": [x["text"] for x in turns[:i]], "call_id": d["call_id"]})
    return records


def load_turns(path: str | Path) -> list[LabelledText]:
    """Read and validate a .yaml/.yml (list, or mapping with ``turns:``) or .jsonl file."""
    p = Path(path)
    if not p.is_file():
        raise TurnsError(f"{p}: no such file")
    suffix = p.suffix.lower()
    try:
        raw_text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TurnsError(f"{p}: cannot read ({exc})") from None
    items: list[tuple[str, Any]] = []  # (where, record)
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(raw_text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise TurnsError(f"{p}: not valid YAML{where}") from None
        if isinstance(doc, Mapping):
            doc = doc.get("turns")
        if not isinstance(doc, list):
            raise TurnsError(f"{p}: expected a list of turns (or a mapping with a 'turns' list)")
        items = [(f"turn {i + 1}", rec) for i, rec in enumerate(doc)]
    elif suffix in (".jsonl", ".ndjson", ".json"):
        if suffix == ".json":
            try:
                doc = json.loads(raw_text)
            except json.JSONDecodeError as exc:
                raise TurnsError(f"{p}: not valid JSON (line {exc.lineno})") from None
            if isinstance(doc, Mapping):
                doc = doc.get("turns")
            if not isinstance(doc, list):
                raise TurnsError(f"{p}: expected a list of turns (or a mapping with a 'turns' list)")
            items = [(f"turn {i + 1}", rec) for i, rec in enumerate(doc)]
        else:
            for n, line in enumerate(raw_text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    items.append((f"line {n}", json.loads(line)))
                except json.JSONDecodeError:
                    raise TurnsError(f"{p}: line {n} is not valid JSON") from None
    else:
        raise TurnsError(f"{p}: unknown format {suffix or '(no extension)'}; use .yaml or .jsonl")
    turns = [_parse_turn(p, where, rec) for where, rec in items]
    pos = sum(t.frustrated for t in turns)
    if pos < MIN_PER_CLASS or len(turns) - pos < MIN_PER_CLASS:
        raise TurnsError(
            f"{p}: need at least {MIN_PER_CLASS} frustrated and {MIN_PER_CLASS} calm turns "
            f"(found {pos} frustrated, {len(turns) - pos} calm)"
        )
    return turns


def _parse_turn(p: Path, where: str, rec: Any) -> LabelledText:
    def bad(msg: str) -> TurnsError:
        return TurnsError(f"{p}: {where}: {msg}")

    if not isinstance(rec, Mapping):
        raise bad("expected a mapping with 'text' and 'frustrated'")
    unknown = set(rec) - {"text", "frustrated", "prosody", "dialogue", "previous", "id", "call_id", "note"}
    if unknown:
        raise bad(f"unknown field(s) {sorted(unknown)}")
    text = rec.get("text", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise bad("'text' must be a string")
    if "frustrated" not in rec:
        raise bad("missing 'frustrated' (true or false)")
    label = rec["frustrated"]
    if not isinstance(label, bool):
        raise bad(f"'frustrated' must be true or false, not {label!r}")
    prosody_raw = rec.get("prosody") or {}
    if not isinstance(prosody_raw, Mapping):
        raise bad("'prosody' must be a mapping of feature name to number")
    prosody: dict[str, float] = {}
    for k, v in prosody_raw.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise bad(f"prosody {k!r} must be a finite number, not {v!r}")
        prosody[str(k)] = float(v)
    dialogue_raw = rec.get("dialogue") or {}
    if not isinstance(dialogue_raw, Mapping):
        raise bad("'dialogue' must be a mapping")
    extra = set(dialogue_raw) - set(_DIALOGUE_FIELDS)
    if extra:
        raise bad(f"unknown dialogue field(s) {sorted(extra)}; known: {sorted(_DIALOGUE_FIELDS)}")
    kwargs: dict[str, Any] = {}
    for k, v in dialogue_raw.items():
        if k == "barge_in":
            if not isinstance(v, bool):
                raise bad("dialogue 'barge_in' must be true or false")
        elif isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise bad(f"dialogue {k!r} must be a count (0 or more), not {v!r}")
        kwargs[k] = v
    previous = rec.get("previous") or []
    if not isinstance(previous, list) or not all(isinstance(x, str) for x in previous):
        raise bad("'previous' must be a list of strings")
    if not text.strip() and not prosody:
        raise bad("a turn needs 'text' or 'prosody'")
    return LabelledText(text, label, prosody, DialogueSignals(**kwargs), list(previous))


# ---------------------------------------------------------------------------- features


def featurise(turns: Sequence[LabelledText], use_embeddings: bool = True) -> list[dict[str, float]]:
    """The fusion feature vector of each turn, as the live dialog would compute it."""
    from nlu.frustration_text import text_cues
    from nlu.fusion import turn_features

    need_embed = use_embeddings and any(t.previous for t in turns)
    embed = None
    if need_embed:
        from nlu.embeddings import embed
    out = []
    for t in turns:
        emb, prev = None, []
        if embed is not None and t.previous and t.text.strip():
            vecs = embed([t.text, *t.previous])
            emb, prev = vecs[0], list(vecs[1:])
        out.append(turn_features(text_cues(t.text, emb, prev), t.prosody, t.dialogue))
    return out


def refit(features: Sequence[Mapping[str, float]], labels: Sequence[bool], base: FrustrationWeights,
          c: float = 1.0) -> FrustrationWeights:
    """``fit_weights`` on the features that vary in these turns; the rest keep ``base``'s weights."""
    from nlu.fusion import fit_weights

    import numpy as np

    x = np.array([[float(f.get(k, 0.0)) for k in FEATURES] for f in features])
    varying = tuple(k for k, col in zip(FEATURES, x.T) if float(np.ptp(col)) > 1e-9)
    if not varying:
        raise TurnsError("no feature varies across the labelled turns: nothing to fit")
    fitted = fit_weights(
        [{"features": f, "frustrated": y} for f, y in zip(features, labels)],
        c=c, ema_alpha=base.ema_alpha, features=varying,
    )
    weights = dict(fitted.weights)
    bias = fitted.bias
    kept = []
    for k, col in zip(FEATURES, x.T):
        if k in varying or k not in base.weights:
            continue
        weights[k] = base.weights[k]
        kept.append(k)
        bias -= base.weights[k] * float(col[0])  # a constant non-zero feature: keep the logits the fit saw
    ordered = {k: weights[k] for k in FEATURES if k in weights}
    source = f"ivr train frustration: fit_weights on {len(features)} labelled turns"
    if kept:
        source += f"; kept from before (no variation in the turns): {', '.join(kept)}"
    return FrustrationWeights(round(bias, 4), ordered, base.ema_alpha, source=source)


# ---------------------------------------------------------------------------- metrics


def auc(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(set(bool(y) for y in labels)) < 2:
        return None
    return float(roc_auc_score([int(bool(y)) for y in labels], list(scores)))


def f1(labels: Sequence[bool], scores: Sequence[float], threshold: float = 0.5) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score([int(bool(y)) for y in labels], [int(s >= threshold) for s in scores], zero_division=0))


def holdout_split(labels: Sequence[bool], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Stratified train/held-out indices; ([], []) when a class is too small to split."""
    import random

    rng = random.Random(seed)
    train, test = [], []
    for cls in (True, False):
        idx = [i for i, y in enumerate(labels) if bool(y) == cls]
        rng.shuffle(idx)
        n_test = max(1, round(len(idx) * fraction))
        if len(idx) - n_test < 1:
            return [], []
        test += idx[:n_test]
        train += idx[n_test:]
    return sorted(train), sorted(test)


def _fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:.3f}"


# ---------------------------------------------------------------------------- command


def run(args: argparse.Namespace) -> int:
    turns_path = Path(getattr(args, "turns", None) or DEFAULT_TURNS_PATH)
    out_path = Path(getattr(args, "out", None) or DEFAULT_WEIGHTS_PATH)
    base_path = getattr(args, "base", None)
    base_path = Path(base_path) if base_path else (out_path if out_path.is_file() else DEFAULT_WEIGHTS_PATH)
    holdout = float(getattr(args, "holdout", 0.25) or 0.25)
    seed = int(getattr(args, "seed", 0) or 0)
    c = float(getattr(args, "c", 1.0) or 1.0)
    prog = "ivr train frustration"
    if not 0.0 < holdout < 1.0:
        print(f"{prog}: --holdout must be between 0 and 1", file=sys.stderr)
        return 2
    try:
        base = FrustrationWeights.load(base_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"{prog}: cannot read the current weights {base_path}: {exc}", file=sys.stderr)
        return 2
    try:
        if getattr(args, "from_store", None):
            from store import Store

            store = Store(args.from_store)
            try:
                records = disposition_records(store)
            finally:
                store.close()
            turns_path = Path(f"dispositions in {args.from_store.split('@')[-1]}")
            turns = [_parse_turn(turns_path, f"turn {i + 1}", r) for i, r in enumerate(records)]
            pos = sum(t.frustrated for t in turns)
            if pos < MIN_PER_CLASS or len(turns) - pos < MIN_PER_CLASS:
                raise TurnsError(f"{turns_path}: {len(turns)} labelled turns ({pos} frustrated); need at least "
                                 f"{MIN_PER_CLASS} of each: more dispositions first")
        else:
            turns = load_turns(turns_path)
    except TurnsError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    feats = featurise(turns)
    labels = [t.frustrated for t in turns]
    pos = sum(labels)
    print(f"{len(turns)} labelled turns from {turns_path} ({pos} frustrated, {len(turns) - pos} calm)")

    report: dict[str, Any] = {"turns": len(turns), "frustrated": pos, "holdout": holdout, "seed": seed}
    tr, te = holdout_split(labels, holdout, seed)
    if te:
        y_te = [labels[i] for i in te]
        before = [base.score(feats[i]) for i in te]
        try:
            w_tr = refit([feats[i] for i in tr], [labels[i] for i in tr], base, c=c)
            after = [w_tr.score(feats[i]) for i in te]
        except (TurnsError, ValueError) as exc:
            print(f"{prog}: held-out check skipped ({exc})", file=sys.stderr)
            after = None
        report["before"] = {"auc": auc(y_te, before), "f1": f1(y_te, before)}
        report["after"] = {"auc": auc(y_te, after), "f1": f1(y_te, after)} if after is not None else None
        print(f"held-out fold ({len(te)} turns, {sum(y_te)} frustrated; seed {seed}):")
        print(f"  before  AUC {_fmt(report['before']['auc'])}  F1@0.5 {_fmt(report['before']['f1'])}   ({base_path})")
        if report["after"]:
            print(f"  after   AUC {_fmt(report['after']['auc'])}  F1@0.5 {_fmt(report['after']['f1'])}   "
                  f"(re-fitted on the other {len(tr)} turns)")
    else:
        print("held-out check skipped: too few turns of one class to hold some out")
    try:
        new = refit(feats, labels, base, c=c)
    except (TurnsError, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    out_path.parent.mkdir(parents=True, exist_ok=True)
    new.save(out_path)
    changed = sorted(k for k in set(new.weights) | set(base.weights)
                     if abs(new.weights.get(k, 0.0) - base.weights.get(k, 0.0)) > 1e-9)
    print(f"wrote {out_path} (bias {new.bias:+.3f}; {len(changed)} weights changed, fitted on all {len(turns)} turns)")
    if getattr(args, "json", None):
        report["weights"] = new.to_dict()
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--turns", default=str(DEFAULT_TURNS_PATH),
                   help="labelled turns, .yaml (list or 'turns:') or .jsonl (default: %(default)s)")
    p.add_argument("--from-store", dest="from_store", default=None,
                   help="learn from agents' dispositions in this store (URL) instead of --turns")
    p.add_argument("--out", default=str(DEFAULT_WEIGHTS_PATH), help="weights file to write (default: %(default)s)")
    p.add_argument("--base", default=None,
                   help="weights to compare with and to keep for features the turns do not vary (default: --out)")
    p.add_argument("--holdout", type=float, default=0.25, help="share of turns held out for the before/after check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--c", type=float, default=1.0, help="inverse L2 regularisation strength")
    p.add_argument("--json", default=None, help="also write the held-out figures and new weights here")
    return p


def main(argv: list[str] | None = None) -> int:
    p = add_arguments(argparse.ArgumentParser(prog="ivr train frustration", description=__doc__.splitlines()[0]))
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
