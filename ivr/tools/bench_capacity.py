"""`ivr bench capacity`: how many concurrent calls one `ivr serve` carries within the limits.

With `--callers sipp` (the default) most of a level's calls are light: sipp playing a pcap of
the scripted lines (``ivr.tools.sipp_callers``), so the service, not Python callers, gets the
CPU; `--probes` of them (default 2) are the project's own UA, measuring at the wire. Per level:
wire voice-to-voice and RTP jitter at the probes, the service's own voice-to-voice for every
call (its stage trace), failed calls (sipp's counters and the probes'), the service's CPU and
RSS, sipp's CPU; the capacity curve is drawn beside the JSON (``capacity_curve``, an SVG).

With `--callers ua`, every call is a Python UA, as before: raises the number of simultaneous scripted callers (SIP/RTP from the project's own UA, each
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
    light_calls: int = 0  # of `calls`, how many were sipp callers (the rest: wire probes)
    light_completed: int = 0
    light_failed: int = 0
    light_peak_concurrent: int = 0  # sipp's calls in progress at once: did the level reach `calls`?
    light_mean_concurrent: float = 0.0
    callers_cpu_percent: float = 0.0  # sipp's CPU over the level, percent of one core
    # The service's CPU a turn answered (all its work, over the turns its trace reports), and what
    # its ASR pool ran and was spared over the level (voice.asr_stats via /metrics; {} before them)
    cpu_ms_per_turn: float | None = None
    asr: dict = field(default_factory=dict)


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
    if level.light_calls and level.light_peak_concurrent < level.light_calls:
        why.append(f"sipp reached {level.light_peak_concurrent} of its {level.light_calls} calls at once")
    level.passed = not why
    level.why = why
    return level


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


def asr_counts(https: list[int]) -> dict[str, float]:
    """The service's ivr_asr_* counters (voice.asr_stats) from /metrics, summed over its workers;
    {} where it has none."""
    import urllib.request

    out: dict[str, float] = {}
    for http in https:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5) as r:
            text = r.read().decode()
        for line in text.splitlines():
            if line.startswith("ivr_asr_") and "_total " in line:
                name, value = line.split()
                key = name.removeprefix("ivr_asr_").removesuffix("_total")
                out[key] = out.get(key, 0.0) + float(value)
    return out


def asr_summary(before: dict[str, float], after: dict[str, float]) -> dict:
    """Pure: a level's ASR counts (after - before), with the mean queue wait a run."""
    d = {k: round(after[k] - before.get(k, 0.0), 3) for k in after}
    if d.get("runs"):
        d["queue_wait_ms_mean"] = round(d["queue_wait_s"] * 1000 / d["runs"], 1)
    return d


async def run_level(sip: int, api, lines: list[Line], calls: int, hold: float, stat,
                    light=None, probes: int = 2, https: list[int] | None = None) -> LevelResult:
    """One level: `calls` concurrent; with `light` (calls -> a started SippCallers-like), all but
    `probes` of them are sipp's."""
    out: dict = {"turns": [], "jitter": [], "completed": 0, "failed": 0, "errors": [], "sip_ids": []}
    ua_calls = calls if light is None else min(probes, calls)
    seen = await _call_ids(api)
    asr0 = asr_counts(https) if https else {}
    t0 = time.monotonic()
    cpu0 = stat.cpu_seconds()
    rss = [stat.rss_mb()]
    until = t0 + hold
    sipp = light(calls - ua_calls) if light is not None and calls > ua_calls else None

    async def spread(i: int) -> None:
        await asyncio.sleep(i * 1.13)  # callers do not all start on the same packet
        await caller(sip, lines, until, i, out)

    async def sample() -> None:
        while True:
            await asyncio.sleep(1.0)
            rss.append(stat.rss_mb())

    async def stop_light():  # at the end of the hold, sipp places no more calls; those in flight finish
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        return await asyncio.get_running_loop().run_in_executor(None, sipp.stop, sipp.call_seconds + 30)

    sampler = asyncio.create_task(sample())
    stopper = asyncio.create_task(stop_light()) if sipp is not None else None
    try:
        await asyncio.gather(*(spread(i) for i in range(ua_calls)))
    finally:
        sipp_result = await stopper if stopper is not None else None
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
    if light is None:
        for sid in out["sip_ids"]:
            stages += await _stages(api, sid)
    else:  # every call of the level, sipp's too: the service's own voice-to-voice for all of them
        stages = await _new_stages(api, seen)
    level.stages_ms = stage_summary(stages)
    if stages:
        level.cpu_ms_per_turn = round(level.cpu_percent * 10 * dt / len(stages), 1)
    if https:
        level.asr = asr_summary(asr0, asr_counts(https))
    if sipp_result is not None:
        level.light_calls = calls - ua_calls
        level.light_completed = sipp_result.calls_completed
        level.light_failed = sipp_result.calls_failed
        level.light_peak_concurrent = sipp_result.peak_concurrent
        level.light_mean_concurrent = sipp_result.mean_concurrent
        level.calls_completed += sipp_result.calls_completed
        level.calls_failed += sipp_result.calls_failed
        level.callers_cpu_percent = round(sipp_result.cpu_seconds / dt * 100, 1)
        if sipp_result.calls_completed == 0:
            out["errors"].append(f"sipp completed no call (exit {sipp_result.returncode})")
    level = verdict(level)
    if out["errors"]:  # after the verdict, which writes `why` afresh
        level.why.append("; ".join(sorted(set(out["errors"]))[:3]))
    return level


async def _call_ids(api) -> set[str]:
    loop = asyncio.get_running_loop()
    calls = (await loop.run_in_executor(None, api, "/api/calls?limit=500"))["calls"]
    return {c["id"] for c in calls}


async def _new_stages(api, seen: set[str]) -> list[dict]:
    """The stage events of every call stored since `seen` was taken (ended calls only)."""
    loop = asyncio.get_running_loop()
    out = []
    for _ in range(50):  # the store writes in the background
        calls = (await loop.run_in_executor(None, api, "/api/calls?limit=500"))["calls"]
        if all(c.get("ended_at") for c in calls if c["id"] not in seen):
            break
        await asyncio.sleep(0.2)
    for c in calls:
        if c["id"] not in seen:
            evs = (await loop.run_in_executor(None, api, f"/api/calls/{c['id']}/events"))["events"]
            out += [e for e in evs if e.get("event") == "stages"]
    return out


def run(args) -> int:
    from ivr.tools.bench_latency import synth_lines
    from ivr.engine import quiet_libraries
    from ivr.tools.capacity_target import cluster_service, single_service
    from voice.models import ModelConfig, SpeechModels

    renderings = RENDERINGS if args.renderings is None else args.renderings
    if renderings < 3:
        print("ivr bench capacity: --renderings must be at least 3 (a call says three lines)", file=sys.stderr)
        return 2
    quiet_libraries()
    lines = synth_lines(SpeechModels(ModelConfig(asr_workers=1, tts_workers=1)), renderings)
    levels: list[LevelResult] = []
    best = 0
    callers = getattr(args, "callers", "ua")
    probes = getattr(args, "probes", 2)
    workers = getattr(args, "workers", 1)
    if workers > 1 and getattr(args, "service_checkout", None):
        print("ivr bench capacity: --service-checkout runs one service; not with --workers", file=sys.stderr)
        return 2
    layout = {}
    with tempfile.TemporaryDirectory(prefix="ivr-capacity-") as tmp:
        target = (cluster_service(workers, args.bot) if workers > 1
                  else single_service(Path(tmp), args.bot, getattr(args, "service_checkout", None)))
        with target as svc:
            layout = svc.layout
            light = None
            if callers == "sipp":
                from ivr.tools.sipp_callers import SippCallers, call_budget, write_caller

                scenario, call_s = write_caller(Path(tmp), [x.pcm8k for x in lines[:3]])

                def light(n: int) -> SippCallers:
                    return SippCallers(scenario, svc.sip, n, Path(tmp), call_s,
                                       max_calls=call_budget(n, args.hold, call_s)).start()
            stat = svc.stat
            idle_rss = stat.rss_mb()
            n = args.start
            while n <= args.max:
                print(f"capacity: {n} concurrent calls for {args.hold:.0f} s ({callers} callers) ...", flush=True)
                level = asyncio.run(run_level(svc.sip, svc.api, lines, n, args.hold, stat, light, probes, svc.https))
                levels.append(level)
                print(f"  p95 {level.voice_to_voice_ms['p95']} ms, jitter max {level.jitter_ms['max']} ms, "
                      f"{level.calls_completed} calls, {level.calls_failed} failed, {level.turns_missed} unanswered, "
                      f"CPU {level.cpu_percent} %, RSS {level.rss_mb_peak} MB: {'held' if level.passed else 'FAILED ' + '; '.join(level.why)}",
                      flush=True)
                print(f"  CPU {level.cpu_ms_per_turn} ms a turn, sipp calls at once peak {level.light_peak_concurrent} "
                      f"mean {level.light_mean_concurrent}, ASR {level.asr}, load {level.load_avg}", flush=True)
                if not level.passed and not getattr(args, "all_levels", False):
                    break
                if all(x.passed for x in levels):  # held, and every level below it too
                    best = n
                n += args.step
    report = {
        "capacity_calls": best,
        "callers": callers,
        "probes": probes if callers == "sipp" else None,
        "layout": layout,  # one `ivr serve`, or workers behind Kamailio (CPU: all of their processes)
        "limits": {"p95_voice_to_voice_ms": P95_LIMIT_MS, "rtp_jitter_ms": JITTER_LIMIT_MS, "failed_calls": 0},
        "hold_s": args.hold,
        "idle_rss_mb": round(idle_rss, 1),
        "levels": [asdict(x) for x in levels],
        "machine": describe(),
    }
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    from ivr.tools.capacity_curve import capacity_svg

    curve = out.with_suffix(".svg")
    curve.write_text(capacity_svg(report["levels"], P95_LIMIT_MS,
                                  f"ivr bench capacity ({callers} callers, {args.hold:.0f} s a level{_workers_note(workers)}): {best} calls held"))
    print(f"capacity: {best} concurrent calls held {args.hold:.0f} s; wrote {out} and {curve}")
    return 0


def _workers_note(workers: int) -> str:
    return f", {workers} workers behind Kamailio" if workers > 1 else ""
