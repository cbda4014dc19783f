"""`ivr bench startup`: from starting `ivr serve` to a caller hearing it, cold and warm.

Each round starts the service with an empty start-up cache (cold: everything is built, as on a
fresh machine or CI clone), then again on the cache that start left (warm: a restart, a deploy,
a new worker), and with `--compare CHECKOUT` a third time from another checkout (main, for the
figures before), alternating so that the machine's load weighs on all of them alike. Each start
is timed from the process's spawn to "ivr: ready" and to the first voiced RTP packet of the
greeting of a call placed the moment it is ready (the project's own SIP user agent); then the
caller says one line, and the bot's reply latency shows that the first call runs at full speed.
The CPU the process used until ready is given too: on a shared machine it moves far less with
the load than the wall time does.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

from ivr.tools.machine import describe, load


async def _first_call(sip: int, line) -> tuple[float, float | None]:
    """Clock time of the greeting's first voiced packet, and the reply latency to `line` (ms)."""
    from ivr.tools.bench_latency import converse, rtp_leg

    async with rtp_leg(sip) as leg:
        if not await leg._wait(lambda: bool(leg.voiced_rx), 30.0):
            raise RuntimeError("no greeting")
        turns = await converse(leg, [line], "startup", 0)
    return leg.voiced_rx[0], turns[0].voice_to_voice_ms


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far, all its threads (Linux)."""
    import os

    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def one_start(kind: str, line, cache_dir: Path, cwd: str | None = None) -> dict:
    from ivr.tools.harness import running_service

    load_before = load()[0]
    with tempfile.TemporaryDirectory(prefix="ivr-bench-startup-") as var:
        with running_service(Path(var), env={"IVR_CACHE_DIR": str(cache_dir)}, cwd=cwd, start_timeout=300) as svc:
            cpu = cpu_seconds(svc.proc.pid)  # at "ready": what the start cost, whatever the load
            greeting, reply_ms = asyncio.run(_first_call(svc.sip, line))
            engine = next((float(m.group(1)) for m in map(re.compile(r"engine ready in ([\d.]+) s").search, svc.log) if m),
                          None)
    out = {"kind": kind, "ready_s": round(svc.ready_at - svc.spawned_at, 2),
           "answered_s": round(greeting - svc.spawned_at, 2), "engine_s": engine,
           "first_reply_ms": reply_ms, "cpu_s": cpu, "load_1min": load_before}
    print(f"bench startup: {kind}: ready {out['ready_s']} s, greeting heard {out['answered_s']} s after the spawn "
          f"(engine {engine} s, {cpu} s of CPU), first reply {reply_ms} ms; load {load_before}", flush=True)
    return out


def _summary(runs: list[dict]) -> dict:
    out = {}
    for kind in dict.fromkeys(r["kind"] for r in runs):
        mine = [r for r in runs if r["kind"] == kind]
        out[kind] = {key: {"median": round(statistics.median(v), 2), "min": min(v), "max": max(v)}
                     for key in ("ready_s", "answered_s", "cpu_s", "first_reply_ms")
                     if (v := [r[key] for r in mine if r[key] is not None])}
        out[kind]["runs"] = len(mine)
    return out


def run(args) -> int:
    from ivr.tools.bench_latency import synth_lines
    from ivr.engine import quiet_libraries
    from voice.models import shared_models

    quiet_libraries()
    line = synth_lines(shared_models(), 1)[0]  # "Hi, I need to check on an order I placed last week."
    machine_before = describe()
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ivr-cache-") as caches:
        for i in range(args.runs):
            cache = Path(caches) / f"round{i}"
            runs.append(one_start("cold", line, cache))
            runs.append(one_start("warm", line, cache))
            if args.compare:
                runs.append(one_start("compare", line, Path(caches) / f"compare{i}", cwd=args.compare))
    report = {"runs": runs, "summary": _summary(runs), "compare": args.compare,
              "machine": machine_before, "machine_after": describe()}
    print(json.dumps(report["summary"], indent=2))
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0
