"""`ivr bench capacity`: how many concurrent calls one `ivr serve` carries within the limits.

Raises the number of simultaneous scripted callers (SIP/RTP from the project's own UA, each
calling again as soon as its call ends, starting at a different line and pausing 0.3-3 s, seeded,
before each line, so that turns do not all land at once) level by level. A level holds for `--hold` seconds and
passes while p95 voice-to-voice stays within 1.2 s, the outgoing RTP jitter (RFC 3550, of the
bot's packets as they arrive at the callers) stays within 5 ms, and no call fails (no answer, no
greeting, or a turn left unanswered). The report is the largest level that held, with the
service's CPU (percent of one core) and memory (RSS) at each level.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ivr.tools.bench_latency import Line, RtpLeg, TurnResult, _stages, converse, pcts, stage_summary
from ivr.tools.machine import describe, load

P95_LIMIT_MS = 1200.0
JITTER_LIMIT_MS = 5.0
# Piper varies every rendering, and Whisper reads some renderings badly every time (a repetition,
# a lost stop): with one rendering per line, that one sample was a tenth of every level's turns
# (a run's ASR p95 went from 280 to 560 ms on it). Six per line, each a different sample.
RENDERINGS = 60


@dataclass
class JitterMeter:
    """RFC 3550 interarrival jitter of one RTP stream, in milliseconds."""

    rate: int = 8000
    jitter_ms: float = 0.0
    peak_ms: float = 0.0
    _prev: tuple[float, int] | None = None

    def update(self, arrival_s: float, rtp_ts: int) -> None:
        if self._prev is not None:
            a0, ts0 = self._prev
            d = (arrival_s - a0) - ((rtp_ts - ts0) & 0xFFFFFFFF) / self.rate
            if abs(d) < 1.0:  # a timestamp jump (new talk spurt after a reset) is not jitter
                self.jitter_ms += (abs(d) * 1000 - self.jitter_ms) / 16
                self.peak_ms = max(self.peak_ms, self.jitter_ms)
        self._prev = (arrival_s, rtp_ts)


@dataclass
class LevelResult:
    calls: int
    seconds: float
    voice_to_voice_ms: dict
    jitter_ms: dict  # per call: mean of the running RFC 3550 estimate; p95 and max over calls
    calls_completed: int
    calls_failed: int
    turns_missed: int
    cpu_percent: float  # the service process, percent of one core
    rss_mb_peak: float
    load_avg: list[float]
    passed: bool = False
    why: list[str] = field(default_factory=list)
    stages_ms: dict = field(default_factory=dict)  # the service's own trace of the level's turns


def verdict(level: LevelResult) -> LevelResult:
    """Pure: whether a level stayed within the limits, and which it passed if not."""
    why = []
    p95 = level.voice_to_voice_ms.get("p95")
    if p95 is None or p95 > P95_LIMIT_MS:
        why.append(f"p95 voice-to-voice {p95} ms > {P95_LIMIT_MS:.0f} ms")
    if level.jitter_ms.get("max", 0.0) > JITTER_LIMIT_MS:
        why.append(f"RTP jitter {level.jitter_ms['max']} ms > {JITTER_LIMIT_MS} ms")
    if level.calls_failed or level.turns_missed:
        why.append(f"{level.calls_failed} calls failed, {level.turns_missed} turns unanswered")
    level.passed = not why
    level.why = why
    return level


class ProcStat:
    """CPU time and memory of one process (the service), from /proc."""

    def __init__(self, pid: int):
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


async def caller(sip: int, lines: list[Line], until: float, index: int, out: dict) -> None:
    """One line of callers: call, talk through the script, hang up, call again until `until`."""
    from telephony import EndpointConfig, SipEndpoint

    import random

    rng = random.Random(index)  # reproducible, different per caller
    n = index  # each caller starts at a different line
    while time.monotonic() < until:
        ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
        await ep.start()
        try:
            call = await ep.invite(f"sip:support@127.0.0.1:{sip}", ring_timeout=10)
            out["sip_ids"].append(call.call_id)
            leg = RtpLeg(call)
            meter = JitterMeter()
            samples: list[float] = []
            tap = call.media.on_packet

            def jitter_tap(direction, pkt, t, _tap=tap):
                _tap(direction, pkt, t)
                if direction == "rx":
                    meter.update(t, pkt.timestamp)
                    samples.append(meter.jitter_ms)

            call.media.on_packet = jitter_tap
            script = lines[n % len(lines):] + lines[: n % len(lines)]
            try:
                results = await converse(leg, script[:3], "ours", index, think=lambda: rng.uniform(0.3, 3.0))
            finally:
                await leg.close()
            out["turns"].extend(results)
            out["jitter"].append(float(np.mean(samples)) if samples else 0.0)
            out["completed"] += 1
        except Exception as exc:  # no answer, no greeting, media that never went out
            out["failed"] += 1
            out["errors"].append(f"{type(exc).__name__}: {exc}")
        finally:
            await ep.stop()
        n += 1


async def run_level(sip: int, api, lines: list[Line], calls: int, hold: float, stat: ProcStat) -> LevelResult:
    out: dict = {"turns": [], "jitter": [], "completed": 0, "failed": 0, "errors": [], "sip_ids": []}
    t0 = time.monotonic()
    cpu0 = stat.cpu_seconds()
    rss = [stat.rss_mb()]
    until = t0 + hold

    async def spread(i: int) -> None:
        await asyncio.sleep(i * 1.13)  # callers do not all start on the same packet
        await caller(sip, lines, until, i, out)

    async def sample() -> None:
        while True:
            await asyncio.sleep(1.0)
            rss.append(stat.rss_mb())

    sampler = asyncio.create_task(sample())
    try:
        await asyncio.gather(*(spread(i) for i in range(calls)))
    finally:
        sampler.cancel()
    dt = time.monotonic() - t0
    turns: list[TurnResult] = out["turns"]
    v2v = [t.voice_to_voice_ms for t in turns if t.voice_to_voice_ms is not None and not t.cut_in]
    jit = out["jitter"]
    level = LevelResult(
        calls=calls,
        seconds=round(dt, 1),
        voice_to_voice_ms=pcts(v2v),
        jitter_ms={"p95": round(float(np.percentile(jit, 95)), 2) if jit else None,
                   "max": round(max(jit), 2) if jit else 0.0},
        calls_completed=out["completed"],
        calls_failed=out["failed"],
        turns_missed=sum(t.voice_to_voice_ms is None for t in turns),
        cpu_percent=round((stat.cpu_seconds() - cpu0) / dt * 100, 1),
        rss_mb_peak=round(max(rss), 1),
        load_avg=load(),
    )
    stages = []
    for sid in out["sip_ids"]:
        stages += await _stages(api, sid)
    level.stages_ms = stage_summary(stages)
    if out["errors"]:
        level.why.append("; ".join(sorted(set(out["errors"]))[:3]))
    return verdict(level)


def run(args) -> int:
    from ivr.tools.bench_latency import synth_lines
    from ivr.engine import quiet_libraries
    from ivr.tools.harness import running_service
    from voice.models import ModelConfig, SpeechModels

    renderings = RENDERINGS if args.renderings is None else args.renderings
    if renderings < 3:
        print("ivr bench capacity: --renderings must be at least 3 (a call says three lines)", file=sys.stderr)
        return 2
    quiet_libraries()
    lines = synth_lines(SpeechModels(ModelConfig(asr_workers=1, tts_workers=1)), renderings)
    levels: list[LevelResult] = []
    best = 0
    with tempfile.TemporaryDirectory(prefix="ivr-capacity-") as tmp:
        with running_service(Path(tmp), "--bot", args.bot) as svc:
            stat = ProcStat(svc.proc.pid)
            idle_rss = stat.rss_mb()
            n = args.start
            while n <= args.max:
                print(f"capacity: {n} concurrent calls for {args.hold:.0f} s ...", flush=True)
                level = asyncio.run(run_level(svc.sip, svc.api, lines, n, args.hold, stat))
                levels.append(level)
                print(f"  p95 {level.voice_to_voice_ms['p95']} ms, jitter max {level.jitter_ms['max']} ms, "
                      f"{level.calls_completed} calls, {level.calls_failed} failed, {level.turns_missed} unanswered, "
                      f"CPU {level.cpu_percent} %, RSS {level.rss_mb_peak} MB: {'held' if level.passed else 'FAILED ' + '; '.join(level.why)}",
                      flush=True)
                if not level.passed:
                    break
                best = n
                n += args.step
    report = {
        "capacity_calls": best,
        "limits": {"p95_voice_to_voice_ms": P95_LIMIT_MS, "rtp_jitter_ms": JITTER_LIMIT_MS, "failed_calls": 0},
        "hold_s": args.hold,
        "idle_rss_mb": round(idle_rss, 1),
        "levels": [asdict(x) for x in levels],
        "machine": describe(),
    }
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"capacity: {best} concurrent calls held {args.hold:.0f} s; wrote {out}")
    return 0
