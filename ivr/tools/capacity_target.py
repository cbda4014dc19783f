"""What `ivr bench capacity` loads: one `ivr serve`, or N of them behind Kamailio on this box.

One `ivr serve` runs its calls' media, turn-taking and pipeline on one event loop, so on its own
it can use one core for that work however many the box has (the fourth round's profile: the loop
saturated while the service used 124 % of the 200 % there). The production layout
(`make cluster`: Kamailio's dispatcher in front, PostgreSQL shared) runs one worker per core;
`--workers N` measures that layout on the same box, every process of it counted (workers,
Kamailio, PostgreSQL)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator


@dataclass
class Target:
    sip: int  # where callers send INVITEs (127.0.0.1)
    api: Callable[[str], dict]  # the JSON API as an admin calls it (any worker: the store is shared)
    https: list[int]  # every worker's HTTP port (each has its own /metrics)
    stat: ProcStat
    layout: dict = field(default_factory=dict)


@contextmanager
def single_service(var: Path, bot: str, checkout: str | None = None) -> Iterator[Target]:
    from ivr.tools.harness import running_service

    with running_service(var, "--bot", bot, cwd=checkout) as svc:
        yield Target(svc.sip, svc.api, [svc.http], ProcStat(svc.proc.pid),
                     {"workers": 1, "front": None, "store": "sqlite"})


@contextmanager
def cluster_service(workers: int, bot: str) -> Iterator[Target]:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # cluster/ ships with the checkout, not the wheel
    from cluster import Cluster

    with Cluster(workers=workers, settings={"bot": bot}) as c:
        serve = tuple(w.proc.pid for w in c.nodes)
        postmaster = int((c.pg.data / "postmaster.pid").read_text().split()[0])
        yield Target(c.sip[1], c.nodes[0].api, [w.http for w in c.nodes],
                     ProcStat(*serve, c.kamailio.proc.pid, postmaster, rss_pids=serve),
                     {"workers": workers, "front": "kamailio", "store": "postgresql"})


class ProcStat:
    """CPU time and memory of the service's processes, from /proc.

    CPU counts `pids` and their live descendants (Kamailio's and PostgreSQL's forked children),
    and through each process's cutime/cstime the children already reaped; RSS sums `rss_pids`
    (default `pids`: the `ivr serve` processes; PostgreSQL's backends map shared buffers, which
    a sum would count once a backend)."""

    def __init__(self, *pids: int, rss_pids: tuple[int, ...] | None = None):
        self.pids = pids
        self.rss_pids = pids if rss_pids is None else rss_pids
        self.tick = os.sysconf("SC_CLK_TCK")

    def cpu_seconds(self) -> float:
        stats = _proc_stats()
        tree, frontier = set(), [p for p in self.pids if p in stats]
        while frontier:
            p = frontier.pop()
            tree.add(p)
            frontier += [c for c, (ppid, _) in stats.items() if ppid == p and c not in tree]
        return sum(stats[p][1] for p in tree) / self.tick

    def rss_mb(self) -> float:
        total = 0.0
        for pid in self.rss_pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            except (FileNotFoundError, ProcessLookupError):
                continue
        return total or float("nan")


def parse_stat(text: str) -> tuple[int, int]:
    """Pure: (ppid, utime + stime + cutime + cstime in clock ticks) from a /proc/PID/stat line (the
    command name, in parentheses, may hold spaces and parentheses itself)."""
    f = text.rsplit(")", 1)[1].split()
    return int(f[1]), int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])


def _proc_stats() -> dict[int, tuple[int, int]]:
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                out[int(d.name)] = parse_stat((d / "stat").read_text())
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    return out
