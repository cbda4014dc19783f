"""`python -m cluster.soak --minutes 10` (`make soak`): sipp calls at a steady rate through
Kamailio into the workers, then the leak checks: every call sipp made is in the store and ended;
no call, dialog leg, SIP transaction or asyncio task is left over; open file descriptors are back
where they were; resident memory did not keep growing. Figures go to a JSON file.

`run_soak(cluster, ...)` is also what the shortened soak test calls on the test cluster.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .topology import Cluster

SCENARIO = Path(__file__).with_name("sipp_uac.xml")
# Memory is judged idle to idle, and only on a soak long enough for a leak to show against the
# noise of allocator pools (a 20 s soak checks everything else).
RSS_GROWTH_LIMIT_MB = 64
MEMORY_CHECK_MINUTES = 5
SIPP_PCAPS = Path("/usr/share/sip-tester")  # the built-in uac_pcap scenario plays pcap/g711a.pcap (relative)


@dataclass
class Sample:
    t: float  # seconds since the soak started
    worker: str
    rss_mb: float
    open_fds: int
    asyncio_tasks: int
    calls_active: int
    legs: int
    transactions: int  # not counting the OPTIONS probes' transactions


@dataclass
class SoakResult:
    minutes: float
    rate_cps: float
    workers: int
    sipp_calls: int = 0
    sipp_successful: int = 0
    sipp_failed: int = 0
    refused_503: int = 0  # of the failed: refused by every worker (overloaded), 503 at the caller
    worker_refusals: dict = field(default_factory=dict)  # per worker: INVITEs refused (overload), failovers included
    stored_calls: int = 0
    stored_ended: int = 0
    outcomes: dict = field(default_factory=dict)
    leftover: dict = field(default_factory=dict)  # per worker, after the drain: calls, legs, transactions
    fds: dict = field(default_factory=dict)  # per worker: before, after
    tasks: dict = field(default_factory=dict)  # per worker: before, after
    rss_mb: dict = field(default_factory=dict)  # per worker, MB: idle before, peak, idle after the drain, growth
    drain_s: float = 0.0
    loadavg: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    samples: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _health(w) -> dict:
    return w.api("/healthz")


def _sample(t: float, w) -> Sample:
    h = _health(w)
    s = h["sip_stats"]
    return Sample(round(t, 1), w.name, round(h["process"]["rss_bytes"] / 2**20, 1), h["process"]["open_fds"],
                  h["process"]["asyncio_tasks"], h["calls_active"], s["legs"],
                  _call_transactions(h) + s["client_transactions"])


def _call_transactions(h: dict) -> int:
    s = h["sip_stats"]
    return s["server_transactions"] - s.get("server_transactions_options", 0)


def _sipp_stats(path: Path) -> dict[str, int]:
    """The last row of sipp's -trace_stat CSV: cumulative counters."""
    rows = list(csv.reader(path.read_text().splitlines(), delimiter=";"))
    head, last = rows[0], rows[-1]
    out = {}
    for name in ("OutgoingCall(C)", "SuccessfulCall(C)", "FailedCall(C)"):
        out[name] = int(last[head.index(name)])
    return out


def run_soak(cluster: Cluster, *, minutes: float, rate: float, drain_timeout: float = 60.0,
             sample_every: float = 10.0, media_port: int = 16000, log=print) -> SoakResult:
    live = [w for w in cluster.nodes if w.alive]
    res = SoakResult(minutes=minutes, rate_cps=rate, workers=len(live))
    before = {w.name: _health(w) for w in live}
    since = time.time()
    total = max(1, int(round(rate * minutes * 60)))
    host, port = cluster.sip
    work = Path(tempfile.mkdtemp(prefix="ivr-soak-"))
    (work / "pcap").symlink_to(SIPP_PCAPS)
    stats = work / "stats.csv"
    # INVITE, 200, ACK, ~7 s of PCMA with a DTMF digit, BYE, all through Kamailio's route set.
    # -i/-mi: loopback in the SDP too.
    cmd = [shutil.which("sipp") or "sipp", "-sf", str(SCENARIO), "-s", "support", f"{host}:{port}", "-i", "127.0.0.1", "-mi", "127.0.0.1",
           "-mp", str(media_port), "-r", str(rate), "-rp", "1000", "-m", str(total), "-l", str(max(4, int(rate * 30))),
           "-trace_stat", "-stf", str(stats), "-fd", "5", "-nostdin", "-timeout", f"{int(minutes * 60 + 120)}s",
           "-recv_timeout", "20000", "-trace_err", "-error_file", str(work / "errors.log")]
    log(f"soak: {total} calls at {rate}/s through {host}:{port} to {len(live)} workers")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    next_sample = t0
    try:
        while proc.poll() is None:
            now = time.monotonic()
            if now >= next_sample:
                for w in live:
                    s = _sample(now - t0, w)
                    res.samples.append(asdict(s))
                next_sample += sample_every
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
    err = proc.stderr.read() if proc.stderr else ""
    if stats.exists():
        st = _sipp_stats(stats)
        res.sipp_calls, res.sipp_successful, res.sipp_failed = (st["OutgoingCall(C)"], st["SuccessfulCall(C)"],
                                                                st["FailedCall(C)"])
    else:
        res.problems.append(f"sipp wrote no statistics: {err[-500:]}")
    log(f"soak: sipp done in {time.monotonic() - t0:.0f} s: {res.sipp_successful} ok, {res.sipp_failed} failed")
    # Drain: transactions linger for their timers (Timer J: 32 s for a UDP BYE); then nothing may be
    # left but the transactions of Kamailio's OPTIONS probes (one every 2 s, each kept 32 s).
    t_drain = time.monotonic()
    while time.monotonic() - t_drain < drain_timeout:
        hs = [_health(w) for w in live]
        if all(h["calls_active"] == 0 and h["sip_stats"]["legs"] == 0 and _call_transactions(h) == 0
               and h["sip_stats"]["client_transactions"] == 0 and h["store"]["backlog"] == 0 for h in hs):
            break
        time.sleep(1.0)
    res.drain_s = round(time.monotonic() - t_drain, 1)
    for w in live:
        h = _health(w)
        s = h["sip_stats"]
        res.leftover[w.name] = {"calls": h["calls_active"], "legs": s["legs"], "server_transactions": _call_transactions(h),
                                "client_transactions": s["client_transactions"], "endpoint_tasks": s["tasks"],
                                "store_backlog": h["store"]["backlog"], "write_errors": h["store"]["write_errors"]}
        res.fds[w.name] = {"before": before[w.name]["process"]["open_fds"], "after": h["process"]["open_fds"]}
        res.tasks[w.name] = {"before": before[w.name]["process"]["asyncio_tasks"], "after": h["process"]["asyncio_tasks"]}
        end = _sample(time.monotonic() - t0, w)
        # Idle against idle: before the first call and after the drain (the worker hands freed
        # heap back every 30 s, see ivr/memory.py), so warm pools and busy peaks do not count.
        idle_before = round(before[w.name]["process"]["rss_bytes"] / 2**20, 1)
        peak = max((s["rss_mb"] for s in res.samples if s["worker"] == w.name), default=end.rss_mb)
        res.rss_mb[w.name] = {"idle_before": idle_before, "peak": peak, "idle_after": end.rss_mb,
                              "growth": round(end.rss_mb - idle_before, 1)}
        if minutes >= MEMORY_CHECK_MINUTES and end.rss_mb > idle_before + RSS_GROWTH_LIMIT_MB:
            res.problems.append(f"{w.name} resident memory grew {end.rss_mb - idle_before:.0f} MB, idle to idle")
        if any(v for k, v in res.leftover[w.name].items() if k != "endpoint_tasks"):
            res.problems.append(f"{w.name} left over: {res.leftover[w.name]}")
        if res.fds[w.name]["after"] > res.fds[w.name]["before"] + 2:
            res.problems.append(f"{w.name} open fds {res.fds[w.name]}")
        if res.tasks[w.name]["after"] > res.tasks[w.name]["before"] + 2:
            res.problems.append(f"{w.name} asyncio tasks {res.tasks[w.name]}")
    # Every call sipp made is in the store, ended (the store is shared: ask any live worker).
    calls = _calls_since(live[0], since)
    res.stored_calls = len(calls)
    res.stored_ended = sum(1 for c in calls if c["ended_at"])
    for c in calls:
        res.outcomes[c["outcome"] or "in_progress"] = res.outcomes.get(c["outcome"] or "in_progress", 0) + 1
    errors = (work / "errors.log").read_text(errors="replace") if (work / "errors.log").exists() else ""
    # Kamailio relays a 503 from the last worker as 500 (RFC 3261 §16.7), reason kept.
    res.refused_503 = len(set(re.findall(r"Call-Id '([^']+)'[^\n]*received 'SIP/2\.0 50[03] Service Unavailable", errors)))
    res.worker_refusals = {w.name: _health(w)["sip_stats"].get("calls_refused", 0) for w in live}
    # Every call is accounted for: answered ones are in the store (and ended), refused ones never
    # got a call record (503 before anything started).
    if res.stored_calls != res.sipp_successful + (res.sipp_failed - res.refused_503):
        res.problems.append(f"sipp: {res.sipp_successful} answered, {res.sipp_failed - res.refused_503} failed after "
                            f"answer; the store has {res.stored_calls}")
    if res.stored_ended != res.stored_calls:
        res.problems.append(f"{res.stored_calls - res.stored_ended} stored calls never ended")
    if res.sipp_failed:
        res.problems.append(f"{res.sipp_failed} sipp calls failed, {res.refused_503} of them refused with 503 "
                            f"because every worker was overloaded (see {work / 'errors.log'})")
    res.loadavg = [round(x, 2) for x in os.getloadavg()]
    if not res.problems:
        shutil.rmtree(work, ignore_errors=True)  # kept when something failed: sipp's error log is in it
    return res


def _calls_since(worker, since_epoch: float) -> list[dict]:
    from datetime import datetime, timezone

    out, offset = [], 0
    while True:
        page = worker.api(f"/api/calls?limit=500&offset={offset}")["calls"]
        for c in page:
            started = datetime.fromisoformat(c["started_at"].replace("Z", "+00:00"))
            if started.tzinfo is None:
                started = started.replace(tzinfo=timezone.utc)
            # sipp's calls only (From: sipp): a call another test placed just before is not ours
            if started.timestamp() >= since_epoch - 1 and c.get("caller") == "sipp":
                out.append(c)
        if len(page) < 500 or offset > 100_000:
            return out
        offset += 500


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cluster.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=0.5, help="new calls per second (default 0.5)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", default="bench-results/soak.json")
    args = p.parse_args(argv)
    t = time.monotonic()
    with Cluster(workers=args.workers, settings={"heartbeat_s": 2.0, "worker_stale_s": 10.0}) as cluster:
        print(f"soak: cluster up in {time.monotonic() - t:.0f} s", file=sys.stderr)
        res = run_soak(cluster, minutes=args.minutes, rate=args.rate,
                       log=lambda m: print(m, file=sys.stderr, flush=True))
    doc = {**asdict(res), "ok": res.ok}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(doc, indent=2))
    print(json.dumps({k: v for k, v in doc.items() if k != "samples"}, indent=2))
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
