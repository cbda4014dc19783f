"""The `ivr eval`, `ivr train` and `ivr bench` commands: the tools' own arguments, registered on `ivr`."""

from __future__ import annotations

import argparse


def _cmd_bench(args: argparse.Namespace) -> int:
    args.json_out = args.json_out or f"bench-results/{args.what}.json"
    if args.turns is None:
        args.turns = 3 if args.what == "latency" else 20
    if args.what == "transfer":
        from ivr.tools.bench_transfer import run

        return run(args)
    if args.what == "latency":
        from ivr.tools.bench_latency import run

        return run(args)
    if args.what == "capacity":
        from ivr.tools.bench_capacity import run

        return run(args)
    if args.what == "startup":
        from ivr.tools.bench_startup import run

        return run(args)
    from ivr.tools.bench import run_bench

    return run_bench(args)


def add_tool_commands(sub) -> None:
    """`eval`, `train` and `bench` on the `ivr` command's subparsers."""
    e = sub.add_parser("eval", help="evaluations on real speech and labelled turns")
    esub = e.add_subparsers(dest="what", required=True)
    ef = esub.add_parser("frustration", help="AUC/F1 of prosody (Polish emotional speech), text and fused scores")
    from ivr.tools import eval_frustration, train_frustration

    eval_frustration.add_arguments(ef)
    ef.set_defaults(func=lambda a: eval_frustration.run(a))
    ea = esub.add_parser("asr", help="WER after the G.711 round trip on real speech, and Whisper's speed")
    from ivr.tools import eval_asr

    eval_asr.add_arguments(ea)
    ea.set_defaults(func=lambda a: eval_asr.run(a))
    et = esub.add_parser("turns", help="end-of-turn detection: false cut-offs at pauses inside turns, dead air after real ends")
    from ivr.tools import eval_turns

    eval_turns.add_arguments(et)
    et.set_defaults(func=lambda a: eval_turns.run(a))
    ed = esub.add_parser("digits", help="number answers read again with only digits allowed: digits right, "
                                        "other answers wrongly replaced, by margin")
    from ivr.tools import eval_digits

    eval_digits.add_arguments(ed)
    ed.set_defaults(func=lambda a: eval_digits.run(a))
    ec = esub.add_parser("callers", help="scripted callers the bot was not tuned on, through the real pipeline: "
                                         "routing, first intent, cut-ins, WER, dead air")
    from ivr.tools import eval_callers

    eval_callers.add_arguments(ec)
    ec.set_defaults(func=lambda a: eval_callers.run(a))

    t = sub.add_parser("train", help="re-fit models from labelled data")
    tsub = t.add_subparsers(dest="what", required=True)
    tf = tsub.add_parser("frustration", help="re-fit the frustration fusion weights from labelled turns")
    train_frustration.add_arguments(tf)
    tf.set_defaults(func=lambda a: train_frustration.run(a))
    ta = tsub.add_parser("arousal", help="fit the voice model (first turn and with a baseline) from labelled voice turns")
    from ivr.tools import train_arousal

    train_arousal.add_arguments(ta)
    ta.set_defaults(func=lambda a: train_arousal.run(a))

    b = sub.add_parser("bench", help="benchmarks")
    b.add_argument("what", choices=["latency", "capacity", "pipeline", "transfer", "startup"],
                   help="latency: voice-to-voice at the RTP wire vs pipecat stock over its websocket transport; "
                        "capacity: concurrent calls within p95 1.2 s, jitter 5 ms, no failure; "
                        "pipeline: in-process; transfer: trip → agent INVITE → screen pop; "
                        "startup: process start to a call answered, cold and warm")
    b.add_argument("--turns", type=int, default=None, help="pipeline: caller turns (default 20); latency: turns per call (default 3)")
    b.add_argument("--bot", choices=["triage", "echo"], default="triage", help="latency: the service's bot (default triage)")
    b.add_argument("--compare-legacy", action="store_true",
                   help="latency: also a service with the old end of turn (500 ms silence) and Whisper's 30 s window, same run")
    b.add_argument("--synthetic-only", action="store_true", help="latency: no recorded speech, synthesized lines only")
    b.add_argument("--json", dest="json_out", help="where to write the figures (default bench-results/WHAT.json)")
    b.add_argument("--calls", type=int, default=5, help="latency, transfer: calls to place (default 5)")
    b.add_argument("--start", type=int, default=2, help="capacity: concurrent calls at the first level (default 2)")
    b.add_argument("--step", type=int, default=2, help="capacity: calls added per level (default 2)")
    b.add_argument("--max", type=int, default=24, help="capacity: stop after this level (default 24)")
    b.add_argument("--hold", type=float, default=120.0, help="capacity: seconds each level holds (default 120)")
    b.add_argument("--callers", choices=["sipp", "ua"], default="sipp",
                   help="capacity: sipp playing a pcap (light, the default) with --probes UA calls measuring at the wire, "
                        "or every call a Python UA")
    b.add_argument("--probes", type=int, default=2, help="capacity, sipp callers: UA calls per level measuring at the wire")
    b.add_argument("--all-levels", action="store_true", help="capacity: run every level, past the first that fails")
    b.add_argument("--workers", type=int, default=1,
                   help="capacity: N `ivr serve` workers behind Kamailio with PostgreSQL (the production layout, one "
                        "per core), every process of it counted; default 1: one service on SQLite")
    b.add_argument("--service-checkout", help="capacity: serve from this checkout (e.g. a `git archive` of main), "
                                              "measured by this one's bench")
    b.add_argument("--renderings", type=int, default=None,
                   help="capacity: Piper renderings of the scripted lines, each a different sample (default 60)")
    b.add_argument("--no-baseline", action="store_true", help="skip pipecat's stock pipeline")
    b.add_argument("--baseline", action="append", choices=["pipecat", "pipecat-smart-turn"],
                   help="latency: pipecat-smart-turn adds pipecat's Smart Turn v3 configuration beside the stock one")
    b.add_argument("--runs", type=int, default=3, help="startup: rounds of (cold, warm[, --compare]) starts (default 3)")
    b.add_argument("--compare", metavar="CHECKOUT",
                   help="startup: also start another checkout's `ivr serve` each round (e.g. main, for the figures before)")
    b.set_defaults(func=_cmd_bench)
