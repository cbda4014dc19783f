"""`python -m ivr.tools.bench_vad`: what each call's turn detector costs the event loop a frame.

At 16 calls the event loop, not the ASR pool, is saturated (README, *What bounds the ceiling
now*), and Silero VAD runs in it on every 20 ms frame of every call. This times
`SileroStream.push` alone and `TurnDetector.feed` (webrtcvad, the level, Silero), wall and CPU
µs a frame, over line-noise frames (Silero's cost does not depend on the audio) and over a quiet
line (where Silero, asked only where its answer can be read, does not run), each with Silero on
candidates only (the service) and on every frame (before), in rounds.
Prints the figures and writes bench-results/bench_vad.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ivr.tools.machine import describe, load
from ivr.tools.results import write_report

OUT = Path(__file__).resolve().parents[2] / "bench-results" / "bench_vad.json"


def _per_frame(fn, frames) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    for i, f in enumerate(frames):
        fn(f, i)
    n = len(frames)
    return round((time.perf_counter() - t0) / n * 1e6, 1), round((time.process_time() - c0) / n * 1e6, 1)


def main(argv: list[str] | None = None) -> int:
    from voice.silero import SileroStream
    from voice.turns import TurnConfig, TurnDetector

    p = argparse.ArgumentParser(prog="python -m ivr.tools.bench_vad", description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=1500)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", dest="json_out", help=f"where to write the figures (default {OUT})")
    a = p.parse_args(argv)
    rng = np.random.default_rng(0)
    frames = [rng.normal(0, 800, 320).astype(np.int16) for _ in range(max(1, a.frames))]
    silero = SileroStream()
    for f in frames[:50]:
        silero.push(f)  # warm
    quiet = [rng.normal(0, 20, 320).astype(np.int16) for _ in range(max(1, a.frames))]  # ~-64 dBFS: a quiet line
    rows: dict[str, list] = {"silero": [], "turn detector": [], "turn detector, Silero on every frame": [],
                             "turn detector, quiet line": [], "turn detector, quiet line, Silero on every frame": []}
    for _ in range(max(1, a.rounds)):  # they alternate round by round
        rows["silero"].append(_per_frame(lambda f, i: silero.push(f), frames))
        for name, signal, every in (("turn detector", frames, False), ("turn detector, Silero on every frame", frames, True),
                                    ("turn detector, quiet line", quiet, False),
                                    ("turn detector, quiet line, Silero on every frame", quiet, True)):
            det = TurnDetector(TurnConfig(silero_on_candidates=not every))
            rows[name].append(_per_frame(lambda f, i, det=det: det.feed(f, i * 0.02), signal))
    report = {"machine": describe(), "load_avg": load(), "frames": len(frames),
              "us_per_frame_wall_cpu": rows}
    for name, xs in rows.items():
        cpu = float(np.median([c for _, c in xs]))
        print(f"{name:48s} {' '.join(f'{w:.0f}/{c:.0f}' for w, c in xs)} µs a 20 ms frame (wall/CPU); "
              f"{cpu * 50 / 1e4:.2f} % of a core a call, {cpu * 50 * 40 / 1e4:.0f} % at 40 calls  load {load()[0]:.2f}")
    write_report(Path(a.json_out) if a.json_out else OUT, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
