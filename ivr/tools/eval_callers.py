"""`ivr eval callers`: the unseen-caller set through the real pipeline, scored per split and category.

Each caller of `ivr/tools/data/unseen_callers.yaml` is a reactive script (`ivr.tools.caller_answers`) on
the live-call pipeline (`voice.scripted_caller`), in its own voice, noise and timing
(`ivr.tools.caller_audio`, rendered into `cache/callers/`). The figures (`ivr.tools.caller_metrics`) are
per split: `tune` is what the engineers may look at while they work, `heldout` is reported.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

from ivr.tools.caller_answers import CallerState, answer, first_line
from ivr.tools.caller_metrics import CallScore, aggregate, by_category, score_call
from ivr.tools.caller_script import DEFAULT_SET, CallerSpec, load_set
from ivr.tools.machine import describe, load
from voice.scripted_caller import Utterance

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JSON = ROOT / "bench-results" / "eval_callers.json"
DEFAULT_BASE = ROOT / "var" / "models" / "whisper-base"  # where `make models` puts Whisper base
GAP_S = (0.3, 1.0)  # a person's pause before answering


def seed_of(caller_id: str) -> int:
    return int(hashlib.sha1(caller_id.encode()).hexdigest()[:8], 16)


class ScriptCaller:
    """A CallerSpec as a `voice.scripted_caller.Caller`: answers chosen by `ivr.tools.caller_answers`."""

    def __init__(self, spec: CallerSpec, renderer):
        self.spec = spec
        self._renderer = renderer
        self._state = CallerState()
        self._lines = spec.lines()
        self._rendered: dict[str, Utterance] = {}
        self.said: list[str] = []

    def _utterance(self, key: str, keypad: bool, keys: str = "") -> Utterance | None:
        if key == "hang_up":
            return None
        self.said.append(key)
        if key == "wait":
            return Utterance("wait")
        if keys:  # a key the bot offered ("press 1 for yes"), pressed alone
            return Utterance(key, dtmf=keys)
        if keypad:
            return Utterance(key, dtmf=getattr(self.spec, key).digits + "#")
        if key not in self._rendered:
            self._rendered[key] = self._renderer.line(self.spec.voice, key, self._lines[key])
        return self._rendered[key]

    def first(self) -> Utterance | None:
        a, self._state = first_line(self.spec)
        return self._utterance(a.key, a.keypad, a.keys)

    def reply(self, bot_text: str) -> Utterance | None:
        a, self._state = answer(bot_text, self.spec, self._state)
        return self._utterance(a.key, a.keypad, a.keys)


async def run_one(spec: CallerSpec, engine, renderer, babble) -> tuple[CallScore, dict]:
    from ivr.tools.caller_audio import NoiseSource
    from voice.scripted_caller import run_call

    responder = engine.responder("triage")
    caller = ScriptCaller(spec, renderer)
    rng = random.Random(seed_of(spec.id))
    noise = None
    if spec.noise is not None:
        noise = NoiseSource(spec.noise, seed_of(spec.id), babble() if spec.noise.kind == "babble" else None)
    result = await run_call(engine.models, engine.prompts, responder, caller, noise=noise,
                            gap=lambda: rng.uniform(*GAP_S))
    steps = responder.dialog.summary().to_dict()["steps"]
    events = [e.to_json() for e in result.events]  # scored as stored: the metrics read the wire format
    score = score_call(spec, events, result.lines, result.bot_audio, result.outcome, steps)
    detail = {"ended_by": result.ended_by, "media_s": round(result.duration, 1), "bot": result.bot_texts,
              "said": caller.said, "steps": steps,
              "bot_audio": result.bot_audio}
    return score, detail


def _progress(i: int, n: int, s: CallScore, media_s: float, wall_s: float) -> str:
    verdict = "routed right" if s.routed_right else f"ROUTED WRONG: {s.why}"
    return (f"[{i}/{n}] {s.id:24s} {s.voice:16s} {s.outcome:14s} {verdict}; first intent {s.first_intent} "
            f"({'ok' if s.first_intent_right else 'wrong'}); cut-ins {s.cut_ins}; {media_s:.0f} s of call in {wall_s:.0f} s")


async def evaluate(specs: list[CallerSpec], engine, renderer) -> list[tuple[CallScore, dict]]:
    babble_cache: list = []

    def babble():
        if not babble_cache:
            babble_cache.append(renderer.babble())
        return babble_cache[0]

    out = []
    for i, spec in enumerate(specs, 1):
        t0 = time.monotonic()
        score, detail = await run_one(spec, engine, renderer, babble)
        print(_progress(i, len(specs), score, detail["media_s"], time.monotonic() - t0), file=sys.stderr, flush=True)
        out.append((score, detail))
    return out


def _fmt(v, pct=False) -> str:
    if v is None:
        return "-"
    return f"{v:.1f} %" if pct else str(v)


def table(name: str, agg: dict) -> str:
    return (f"{name:28s} {agg['calls']:5d} {_fmt(agg['routed_right_pct'], True):>8s} {_fmt(agg['first_intent_pct'], True):>8s} "
            f"{agg['cut_ins_paused']:>3d}/{agg['paused_lines']:<3d} {agg['cut_ins_all']:>3d}/{agg['spoken_lines']:<3d} "
            f"{agg['premature_ends']:>5d} {_fmt(agg['wer_pct'], True):>8s} {_fmt(agg['dead_air_mean_s']):>6s} "
            f"{_fmt(agg.get('dead_air_p50_s')):>6s} {_fmt(agg.get('dead_air_p95_s')):>6s} "
            f"{_fmt(agg.get('dead_air_asr_p95_s')):>6s} {agg.get('second_readings', 0):>3d}/{agg.get('turns_heard', 0):<3d}")


HEADER = (f"{'':28s} {'calls':>5s} {'routed':>8s} {'1st int':>8s} {'cut/pause':>9s} {'cut/all':>7s} "
          f"{'early':>5s} {'WER':>8s} {'dead s':>6s} {'p50':>6s} {'p95':>6s} {'+asr95':>6s} {'2nd':>7s}")


def report(scores: list[tuple[CallScore, dict]], splits: list[str]) -> dict:
    out = {}
    for split in splits:
        group = [s for s, _ in scores if s.split == split]
        if group:
            out[split] = {"overall": aggregate(group), "by": by_category(group)}
    return out


def run(args) -> int:
    try:
        caller_set = load_set(args.set or DEFAULT_SET)
    except (OSError, ValueError) as exc:
        print(f"ivr eval callers: {exc}", file=sys.stderr)
        return 2
    specs = list(caller_set.split(args.split))
    if args.only:
        specs = [c for c in caller_set.callers if c.id in args.only]
        missing = sorted(set(args.only) - {c.id for c in specs})
        if missing:
            print(f"ivr eval callers: no such caller: {', '.join(missing)}", file=sys.stderr)
            return 2
    from ivr.engine import get_engine, quiet_libraries

    quiet_libraries()
    from ivr.tools.caller_audio import DEFAULT_CACHE, Renderer

    second = getattr(args, "second_reading", "off")
    base = Path(getattr(args, "base", None) or DEFAULT_BASE)
    if second != "off" and not (base / "model.bin").is_file():
        print(f"ivr eval callers: --second-reading needs Whisper base in {base} (make models)", file=sys.stderr)
        return 2
    engine = get_engine()
    renderer = Renderer(engine.models, Path(args.cache) if args.cache else DEFAULT_CACHE)
    load_start, t0 = load(), time.monotonic()
    passes = {"off": [None], "on": [str(base)], "both": [None, str(base)]}[second]
    runs = {}
    for path in passes:  # the same process, models and clock: only the second reading differs
        engine.models.config = dataclasses.replace(engine.models.config, second_path=path)
        name = "second reading" if path else "tiny.en only"
        if len(passes) > 1:
            print(f"-- {name}", file=sys.stderr, flush=True)
        scores = asyncio.run(evaluate(specs, engine, renderer))
        splits = sorted({s.split for s, _ in scores}, key=["tune", "heldout", "fresh"].index)
        runs[name] = (scores, report(scores, splits))
    for name, (scores, figures) in runs.items():
        if len(runs) > 1:
            print(f"== {name}")
        print(HEADER)
        for split, fig in figures.items():
            print(table(f"{split} (all)", fig["overall"]))
            for cat, groups in fig["by"].items():
                for gname, agg in groups.items():
                    print(table(f"  {cat}: {gname}", agg))
    scores, figures = list(runs.values())[-1]
    doc = {"machine": describe(), "load_avg_start": load_start, "load_avg_end": load(),
           "wall_s": round(time.monotonic() - t0, 1), "set": str(args.set or DEFAULT_SET.relative_to(ROOT)),
           "split": "only" if args.only else args.split, "second_reading": list(runs)[-1], "figures": figures,
           "calls": [{**asdict(s), **d} for s, d in scores]}
    if len(runs) > 1:
        doc["compared"] = {name: fig for name, (_s, fig) in runs.items()}
    out = Path(args.json_out or DEFAULT_JSON)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def add_arguments(p) -> None:
    p.add_argument("--split", choices=["heldout", "fresh", "tune", "all"], default="tune",
                   help="which part of the set (default tune, the part to look at while working; heldout is reported)")
    p.add_argument("--only", action="append", help="only this caller id (repeatable; overrides --split)")
    p.add_argument("--set", help=f"caller set YAML (default {DEFAULT_SET.relative_to(ROOT)})")
    p.add_argument("--cache", help="folder for the rendered caller audio (default cache/callers)")
    p.add_argument("--second-reading", choices=["off", "on", "both"], default="off",
                   help="Whisper base reads again the turns tiny.en is unsure of (voice.second_reading); "
                        "both: a run without, then with, in one process")
    p.add_argument("--base", help="Whisper base folder for --second-reading (default var/models/whisper-base)")
    p.add_argument("--json", dest="json_out", help=f"where to write the figures (default {DEFAULT_JSON.relative_to(ROOT)})")
