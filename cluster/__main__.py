"""`python -m cluster [--workers 3]` (`make cluster`): the scale-out topology in the foreground;
Ctrl-C stops everything it started."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .topology import Cluster


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cluster", description=__doc__)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--sip-port", type=int, default=5060, help="Kamailio's UDP port on 127.0.0.1 (default 5060)")
    p.add_argument("--agent", action="append", default=[], help="passed to every worker (repeatable)")
    args = p.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker_args = [a for spec in args.agent for a in ("--agent", spec)]
    with Cluster(workers=args.workers, sip_port=args.sip_port, worker_args=worker_args) as cluster:
        print(json.dumps(cluster.describe(), indent=2), flush=True)
        print(f"cluster: ready; call sip:support@{cluster.sip[0]}:{cluster.sip[1]} (Ctrl-C stops it)",
              file=sys.stderr, flush=True)
        stop.wait()
        print("cluster: stopping", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
