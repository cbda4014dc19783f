"""`python -m ivr.tools.bench_asr {beam,batch}`: what Whisper costs a turn, and what cuts it.

- ``beam``: the same audio (the recorded clips of ``ivr eval asr`` and its 240 short phrases)
  read four ways: the service before (beam 5, the standard window decoding to 448 tokens), beam
  5 with the standard window's token budget, greedy only, and greedy first with beam 5 only
  where `voice.whisper_window.wider_beam` doubts the greedy reading. WER and seconds a turn
  (p50 / p95), and the turns that loop (those the fitted window hands to the standard one)
  timed on their own with and without the budget.
- ``batch``: N concurrent turns (1, 4, 8) read one at a time over the ASR pool or through
  `voice.asr_batcher`; turns/s and per-turn latency p50 / p95, several rounds each.

Both print their figures and write JSON to bench-results/ (the load average with them: the
box is shared, so compare the lines of one run, not across runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import numpy as np

from ivr.tools.machine import describe, load

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench-results"


def _pct(xs) -> dict:
    a = np.asarray(xs, dtype=float)
    return {"p50": round(float(np.percentile(a, 50)), 4), "p95": round(float(np.percentile(a, 95)), 4),
            "mean": round(float(a.mean()), 4), "n": int(len(a))}


def _clip_sets(cache: Path, phrases: bool) -> dict[str, list[dict]]:
    from ivr.tools.eval_asr import load_clips, synth_phrases

    sets = {"recorded": load_clips(cache)}
    if phrases:
        sets["phrases"] = synth_phrases()
    return sets


BEAM_CONFIGS = {  # name -> ModelConfig fields
    "beam5, standard window unbudgeted (before)": {"beam_size": 5, "budget_standard": False},
    "beam5, budgeted": {"beam_size": 5},
    "beam1 only": {"beam_size": 1},
    "beam1, beam5 when unsure": {"beam_size": 5, "first_beam": 1},
    "beam1, beam5 when unsure or below -0.3": {"beam_size": 5, "first_beam": 1, "first_beam_gate": -0.3},
}


def bench_beam(cache: Path, phrases: bool, prompt: str | None, only: list[str] | None = None) -> dict:
    from voice.models import ModelConfig, SpeechModels
    from voice.wer import word_errors

    sets = _clip_sets(cache, phrases)
    report: dict = {"configs": {}}
    loops: set[tuple[str, str]] = set()
    for name, fields in BEAM_CONFIGS.items():
        if only and not any(o in name for o in only):
            continue
        m = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, initial_prompt=prompt, **fields))
        m.warm_asr()
        per = {}
        for set_name, clips in sets.items():
            errors = words = 0
            secs = []
            for c in clips:
                t0 = time.perf_counter()
                r = m.transcribe_sync(c["pcm16k"])
                secs.append(time.perf_counter() - t0)
                e, n = word_errors(c["text"], r.text)
                errors, words = errors + e, words + n
                if r.window.startswith("standard ("):
                    loops.add((set_name, c["id"]))
            per[set_name] = {"wer": round(errors / max(words, 1), 4), "seconds": _pct(secs)}
            print(f"{name:44s} {set_name:9s} WER {per[set_name]['wer'] * 100:5.1f} %  "
                  f"{per[set_name]['seconds']['p50'] * 1000:5.0f} / {per[set_name]['seconds']['p95'] * 1000:5.0f} ms "
                  f"p50 / p95  load {load()[0]:.2f}", flush=True)
        report["configs"][name] = per
        m.asr_pool.shutdown()
        m.tts_pool.shutdown()
    # the looping turns alone: faster-whisper's standard window with and without the budget
    looping = [c for s, clips in sets.items() for c in clips if (s, c["id"]) in loops]
    report["looping_turns"] = len(looping)
    if looping:
        timing = {}
        for budget in (False, True):
            m = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, initial_prompt=prompt, budget_standard=budget))
            m.warm_asr()
            secs = [_timed(lambda c=c: m.transcribe_sync(c["pcm16k"])) for _ in range(2) for c in looping]
            timing["budgeted" if budget else "unbudgeted (before)"] = _pct(secs)
            m.asr_pool.shutdown()
            m.tts_pool.shutdown()
        report["looping_seconds"] = timing
        for k, v in timing.items():
            print(f"looping turns ({len(looping)}), {k:20s} {v['p50'] * 1000:6.0f} / {v['p95'] * 1000:6.0f} ms p50 / p95",
                  flush=True)
    return report


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def bench_batch(cache: Path, levels: list[int], rounds: int, wait_ms: float) -> dict:
    from ivr.tools.eval_asr import load_clips
    from voice.models import ModelConfig, SpeechModels

    clips = [c for c in load_clips(cache) if c["seconds_audio"] <= 7.0]  # the one-window turns callers say
    report: dict = {"clips": len(clips), "wait_ms": wait_ms, "levels": {}}
    for batched in (False, True):
        m = SpeechModels(ModelConfig(tts_workers=1, asr_batch_ms=wait_ms if batched else 0.0,
                                     asr_max_batch=max(levels)))
        m.warm_asr()
        mode = "batched" if batched else "one at a time"
        for n in levels:
            lat, walls = [], []

            async def one(pcm):
                t0 = time.perf_counter()
                await m.transcribe(pcm)
                lat.append(time.perf_counter() - t0)

            async def level():
                for r in range(rounds):
                    turns = [clips[(r * n + k) % len(clips)]["pcm16k"] for k in range(n)]
                    t0 = time.perf_counter()
                    await asyncio.gather(*(one(p) for p in turns))
                    walls.append(time.perf_counter() - t0)

            asyncio.run(level())
            tps = n * rounds / sum(walls)
            report["levels"].setdefault(str(n), {})[mode] = {"turns_per_s": round(tps, 2), "latency_s": _pct(lat),
                                                           "load": load()[0]}
            print(f"{n} concurrent turns, {mode:13s} {tps:5.2f} turns/s  latency "
                  f"{np.percentile(lat, 50) * 1000:5.0f} / {np.percentile(lat, 95) * 1000:5.0f} ms p50 / p95  "
                  f"load {load()[0]:.2f}", flush=True)
        m.asr_pool.shutdown()
        m.tts_pool.shutdown()
    return report


def main(argv: list[str] | None = None) -> int:
    from ivr.tools.polish_corpus import default_cache

    p = argparse.ArgumentParser(prog="python -m ivr.tools.bench_asr", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["beam", "batch"])
    p.add_argument("--cache", help="evaluation data folder (scripts/fetch_eval_data.sh asr)")
    p.add_argument("--no-phrases", action="store_true", help="beam: the recorded clips only")
    p.add_argument("--no-prompt", action="store_true", help="beam: Whisper unprompted (the service's prompt by default)")
    p.add_argument("--levels", default="1,4,8", help="batch: concurrent turns per level")
    p.add_argument("--rounds", type=int, default=6, help="batch: rounds per level")
    p.add_argument("--wait-ms", type=float, default=20.0, help="batch: the batcher's bounded wait")
    p.add_argument("--only", action="append", help="beam: only configurations whose name contains this")
    p.add_argument("--json", dest="json_out")
    a = p.parse_args(argv)
    cache = Path(a.cache) if a.cache else default_cache()
    report = {"machine": describe(), "load_avg_start": load()}
    if a.what == "beam":
        from voice.asr_prompts import HESITANT

        report.update(bench_beam(cache, not a.no_phrases, None if a.no_prompt else HESITANT, a.only))
    else:
        report.update(bench_batch(cache, [int(x) for x in a.levels.split(",")], a.rounds, a.wait_ms))
    report["load_avg_end"] = load()
    out = Path(a.json_out or OUT / f"bench_asr_{a.what}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
