"""`python -m ivr.tools.bench_asr {beam,batch,split,window}`: what Whisper costs a turn, and what cuts it.

- ``beam``: the same audio (the recorded clips of ``ivr eval asr`` and its 240 short phrases)
  read six ways: the service before (beam 5, the standard window decoding to 448 tokens at
  each of faster-whisper's six fallback temperatures), with the token budget, with the budget
  and the short ladder (0, 0.4: now the default), greedy only, and greedy first with beam 5
  only where `voice.whisper_window.wider_beam` doubts the greedy reading (two gates). WER, wall
  and CPU seconds a turn, and the turns that loop timed on their own, before against now.
- ``batch``: N concurrent turns (1, 4, 8) read one at a time over the ASR pool or through
  `voice.asr_batcher`; turns/s and per-turn latency p50 / p95, several rounds each.
- ``split``: where one turn's time goes: the fitted window's encoder pass, a greedy and a beam-5
  decode of it, and the service's whole reading (second looks, P(finished)).
- ``window``: the fitted window's floor (`fit_min_s`, 10 s) against shorter ones (8, 6 s),
  alternating clip by clip: WER, CPU a turn, redo rate, and the end-of-turn wait each reading gets.

Both print their figures and write JSON to bench-results/ (the load average with them: the
box is shared, so compare the lines of one run, not across runs).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import numpy as np

from ivr.tools.machine import describe, load
from ivr.tools.results import write_report

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
    "beam5, standard window unbounded (before)": {"beam_size": 5, "budget_standard": False,
                                                  "standard_temperatures": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)},
    "beam5, budgeted": {"beam_size": 5, "standard_temperatures": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)},
    "beam5, budgeted, fallback at 0.4 only": {"beam_size": 5},
    "beam1 only": {"beam_size": 1},  # these three with the short fallback ladder (the default)
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
            secs, cpu = [], []
            for c in clips:
                t0, c0 = time.perf_counter(), time.process_time()
                r = m.transcribe_sync(c["pcm16k"])
                secs.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)  # all threads: steadier than wall time on a shared box
                e, n = word_errors(c["text"], r.text)
                errors, words = errors + e, words + n
                if r.window.startswith("standard ("):
                    loops.add((set_name, c["id"]))
            per[set_name] = {"wer": round(errors / max(words, 1), 4), "errors": errors, "words": words,
                             "seconds": _pct(secs), "cpu_seconds": _pct(cpu)}
            print(f"{name:44s} {set_name:9s} WER {per[set_name]['wer'] * 100:5.1f} %  "
                  f"{per[set_name]['seconds']['p50'] * 1000:5.0f} / {per[set_name]['seconds']['p95'] * 1000:5.0f} ms "
                  f"p50 / p95, CPU {per[set_name]['cpu_seconds']['mean'] * 1000:5.0f} ms a turn  load {load()[0]:.2f}",
                  flush=True)
        report["configs"][name] = per
        m.asr_pool.shutdown()
        m.tts_pool.shutdown()
    # the looping turns alone: faster-whisper's standard window with and without the budget
    looping = [c for s, clips in sets.items() for c in clips if (s, c["id"]) in loops]
    # and turns the standard window itself loops on: a caller saying "yes" twelve times, "um"
    # fifteen times, 12 s of a steady tone (hold music, an open line)
    report["looping_turns"] = len(looping)
    forced = _loopers()
    report["looping_turns"] = len(looping)
    for label, turns in (("looping turns", looping), ("repetitions and a tone", forced)):
        if turns:
            report.setdefault("standard_window", {})[label] = _standard_side_by_side(turns, prompt)
    return report


def _loopers() -> list[dict]:
    from voice.models import ModelConfig, SpeechModels

    m = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1))
    yes, um = (m.synthesize_all(w, 16000) for w in ("yes", "um"))
    t = np.arange(16000 * 12) / 16000
    out = [{"id": "yes x12", "pcm16k": np.tile(np.concatenate([yes, np.zeros(4000, np.int16)]), 12)},
           {"id": "um x15", "pcm16k": np.tile(np.concatenate([um, np.zeros(8000, np.int16)]), 15)},
           {"id": "tone 12 s", "pcm16k": (0.2 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)}]
    m.asr_pool.shutdown()
    m.tts_pool.shutdown()
    return out


def _standard_side_by_side(looping: list[dict], prompt: str | None) -> dict:
    """The standard window's reading before (no budget, faster-whisper's whole temperature ladder)
    and now (the budget, the short ladder), alternating turn by turn."""
    from voice.models import ModelConfig, SpeechModels

    report: dict = {"turns": len(looping)}
    if looping:
        # the two side by side on one loaded model, alternating turn by turn (the load moves)
        before = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, initial_prompt=prompt, budget_standard=False,
                                          standard_temperatures=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0)))
        after = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, initial_prompt=prompt))
        before.warm_asr()
        after._whisper = before.whisper
        timing = {"unbounded (before)": [], "budgeted": []}
        cpu = {"unbounded (before)": [], "budgeted": []}
        for rep in range(3 if len(looping) > 3 else 4):
            for i, c in enumerate(looping):
                pair = [("unbounded (before)", before), ("budgeted", after)]
                for name, m in pair if (i + rep) % 2 else pair[::-1]:
                    t0, c0 = time.perf_counter(), time.process_time()
                    m._transcribe_standard(c["pcm16k"], t0, prompt)
                    timing[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
        report["seconds"] = {k: _pct(v) for k, v in timing.items()}
        report["cpu_seconds"] = {k: _pct(v) for k, v in cpu.items()}
        for k, v in report["seconds"].items():
            cv = report["cpu_seconds"][k]
            label = ", ".join(c["id"] for c in looping) if len(looping) <= 3 else "looping turns"
            print(f"{label} ({len(looping)}), standard window, {k:20s} {v['p50'] * 1000:6.0f} / "
                  f"{v['p95'] * 1000:6.0f} ms p50 / p95, CPU {cv['p50'] * 1000:6.0f} / {cv['p95'] * 1000:6.0f} ms",
                  flush=True)
        for m in (before, after):
            m.asr_pool.shutdown()
            m.tts_pool.shutdown()
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


def bench_split(cache: Path, reps: int) -> dict:
    """Where a turn's Whisper time goes: the fitted window's encoder pass against its decodes."""
    from ivr.tools.eval_asr import load_clips
    from voice.asr_prompts import HESITANT
    from voice.audio import PIPELINE_RATE, int16_to_float
    from voice.models import ModelConfig, SpeechModels

    clips = [c for c in load_clips(cache) if c["seconds_audio"] <= 7.0]
    m = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, initial_prompt=HESITANT))
    m.warm_asr()
    parts: dict[str, list[float]] = {"encode 10 s window": [], "decode beam 1": [], "decode beam 5": [],
                                     "whole turn (service)": []}
    for _ in range(reps):
        for c in clips:
            audio, secs = int16_to_float(c["pcm16k"]), len(c["pcm16k"]) / PIPELINE_RATE
            t0 = time.perf_counter()
            enc = m._encode_fitted(audio, m.config.fit_min_s)
            parts["encode 10 s window"].append(time.perf_counter() - t0)
            for beam in (1, 5):
                parts[f"decode beam {beam}"].append(_timed(lambda b=beam: m._decode(enc, secs, HESITANT, beam=b)))
            parts["whole turn (service)"].append(_timed(lambda: m.transcribe_sync(c["pcm16k"])))
    report = {"clips": len(clips), "reps": reps, "seconds": {k: _pct(v) for k, v in parts.items()}}
    for k, v in report["seconds"].items():
        print(f"{k:22s} {v['p50'] * 1000:5.0f} / {v['p95'] * 1000:5.0f} ms p50 / p95  load {load()[0]:.2f}", flush=True)
    m.asr_pool.shutdown()
    m.tts_pool.shutdown()
    return report


def bench_window(cache: Path, phrases: bool, prompt: str | None, windows: list[float], reps: int) -> dict:
    """`fit_min_s` shorter than 10 s, on the same audio, the windows alternating clip by clip:
    WER, CPU a turn, how often the fitted reading is redone (15 s, then the standard window), and
    the end-of-turn wait each reading would get at a pause (`EndOfTurnRule`, P(stop) included:
    every clip is a whole utterance, so a longer wait than the 10 s window's is a worse decision)."""
    from voice.endpointing import EndOfTurnRule, TurnEvidence
    from voice.models import ModelConfig, SpeechModels
    from voice.wer import word_errors

    sets = _clip_sets(cache, phrases)
    rule = EndOfTurnRule()
    models = {w: SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, initial_prompt=prompt, fit_min_s=w))
              for w in windows}
    for m in models.values():
        m.warm_asr()
    report: dict = {"windows": windows, "reps": reps, "sets": {}}
    for set_name, clips in sets.items():
        rows: dict[float, dict] = {w: {"errors": 0, "words": 0, "cpu": [], "wall": [], "redo_15s": 0, "standard": 0,
                                       "no_stop": 0, "waits": []} for w in windows}
        for rep in range(reps):
            for k, c in enumerate(clips):
                order = windows[(k + rep) % len(windows):] + windows[: (k + rep) % len(windows)]
                for w in order:  # alternating: each window first in turn, so the load moves evenly
                    t0, c0 = time.perf_counter(), time.process_time()
                    r = models[w].transcribe_sync(c["pcm16k"])
                    row = rows[w]
                    row["wall"].append(time.perf_counter() - t0)
                    row["cpu"].append(time.process_time() - c0)  # all threads: the encoder's too
                    if rep == 0:
                        e, n = word_errors(c["text"], r.text)
                        row["errors"], row["words"] = row["errors"] + e, row["words"] + n
                        row["redo_15s"] += r.window.startswith("fitted 15")
                        row["standard"] += r.window.startswith("standard")
                        row["no_stop"] += not r.text.rstrip().endswith((".", "?", "!"))
                        row["waits"].append(rule.silence_ms(TurnEvidence(r.text, None, None, r.stop_p)))
        base = rows[windows[0]]["waits"]
        per = {}
        for w, row in rows.items():
            longer = sum(x > b for x, b in zip(row["waits"], base))
            shorter = sum(x < b for x, b in zip(row["waits"], base))
            per[str(w)] = {"wer": round(row["errors"] / max(row["words"], 1), 4), "errors": row["errors"],
                           "words": row["words"], "cpu_seconds": _pct(row["cpu"]), "seconds": _pct(row["wall"]),
                           "redo_15s": row["redo_15s"], "standard": row["standard"], "no_stop": row["no_stop"],
                           "mean_wait_ms": round(float(np.mean(row["waits"])), 1),
                           f"waits_longer_than_{windows[0]:g}s": longer, f"waits_shorter_than_{windows[0]:g}s": shorter}
            v = per[str(w)]
            print(f"fit_min_s {w:4.1f} {set_name:9s} WER {v['wer'] * 100:5.1f} % ({v['errors']}/{v['words']})  "
                  f"CPU {v['cpu_seconds']['mean'] * 1000:4.0f} ms a turn (p95 {v['cpu_seconds']['p95'] * 1000:4.0f})  "
                  f"wall {v['seconds']['p50'] * 1000:4.0f} / {v['seconds']['p95'] * 1000:4.0f} ms  redone 15 s "
                  f"{v['redo_15s']}, standard {v['standard']}, no stop {v['no_stop']}; wait {v['mean_wait_ms']:.0f} ms "
                  f"mean, longer / shorter than {windows[0]:g} s: {longer} / {shorter}  load {load()[0]:.2f}", flush=True)
        report["sets"][set_name] = {"clips": len(clips), "configs": per}
    for m in models.values():
        m.asr_pool.shutdown()
        m.tts_pool.shutdown()
    return report


def main(argv: list[str] | None = None) -> int:
    from ivr.tools.polish_corpus import default_cache

    p = argparse.ArgumentParser(prog="python -m ivr.tools.bench_asr", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["beam", "batch", "split", "window"])
    p.add_argument("--windows", default="10,8,6", help="window: fit_min_s values, the first the baseline")
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
    elif a.what == "window":
        from voice.asr_prompts import HESITANT

        report.update(bench_window(cache, not a.no_phrases, None if a.no_prompt else HESITANT,
                                   [float(x) for x in a.windows.split(",")], max(1, a.rounds // 3)))
    elif a.what == "split":
        report.update(bench_split(cache, max(1, a.rounds // 3)))
    else:
        report.update(bench_batch(cache, [int(x) for x in a.levels.split(",")], a.rounds, a.wait_ms))
    report["load_avg_end"] = load()
    write_report(Path(a.json_out or OUT / f"bench_asr_{a.what}.json"), report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
