"""What `ivr bench capacity` loads: one `ivr serve`, or N of them behind Kamailio on this box.

One `ivr serve` runs its calls' media, turn-taking and pipeline on one event loop, so on its own
it can use one core for that work however many the box has (the fourth round's profile: the loop
saturated at 30-34 calls with the service at 124 % of the 200 % there). The production layout
(`make cluster`: Kamailio's dispatcher in front, PostgreSQL shared) runs one worker per core;
`--workers N` measures that layout on the same box, every process of it counted (workers,
Kamailio, PostgreSQL)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ivr.tools.bench_capacity import ProcStat


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
    from cluster import Cluster

    with Cluster(workers=workers, settings={"bot": bot}) as c:
        serve = tuple(w.proc.pid for w in c.nodes)
        postmaster = int((c.pg.data / "postmaster.pid").read_text().split()[0])
        yield Target(c.sip[1], c.nodes[0].api, [w.http for w in c.nodes],
                     ProcStat(*serve, c.kamailio.proc.pid, postmaster, rss_pids=serve),
                     {"workers": workers, "front": "kamailio", "store": "postgresql"})
