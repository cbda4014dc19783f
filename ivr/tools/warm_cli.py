"""`ivr warm`: build the start-up cache before a start needs it (the Docker image runs it at build
time, `make test` before the suite), so `ivr serve` starts in seconds.

It prepares what `ivr serve` would (the same texts and classifiers, the same keys) and leaves
out what a serving process alone needs (Whisper's and prosody's warm-up). Entries already
there are only checked, so a second run costs about a warm start.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("--company-db", dest="company_db",
                   help="the company's SQLite file whose knowledge-base answers are spoken (default: var/company.db "
                        "when it exists, else the demo data)")
    p.add_argument("--bot", choices=["triage", "echo"], default="triage", help="echo: the fixed prompts only, no NLU")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args) -> int:
    from ivr.engine import nlu_inputs, quiet_libraries
    from calls.disk_cache import DiskCache
    from ivr.startup import StartupPlan, prepare, resolve_dir
    from voice.models import shared_models
    from voice.prompts import DEFAULT_PROMPTS

    quiet_libraries()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = resolve_dir(args.cache_dir)
    if root is None:
        print("ivr warm: the cache is off (--cache-dir/IVR_CACHE_DIR): nothing to build", file=sys.stderr)
        return 2
    texts = dict(DEFAULT_PROMPTS)
    if args.bot == "triage":
        db = args.company_db or ("var/company.db" if Path("var/company.db").exists() else None)
        with tempfile.TemporaryDirectory() as tmp:  # the demo data, without leaving a company.db behind
            texts.update(nlu_inputs(db or str(Path(tmp) / "company.db"))[2])
    cache = DiskCache(root)
    prepared = prepare(shared_models(), StartupPlan(lambda: texts, nlu=args.bot == "triage", warm_models=False), cache)
    report = prepared.report.as_dict()
    if args.json:
        print(json.dumps(report))
    else:
        print(f"ivr warm: {root}: {report['hits']} entries already there, {report['built']} built "
              f"in {report['seconds']:.1f} s", file=sys.stderr)
    return 0
