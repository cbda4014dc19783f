"""The `ivr` command: simulate a recorded call, serve calls, benchmark."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def _cmd_simulate(args: argparse.Namespace) -> int:
    from voice.audio import AudioError, read_wav, write_wav

    try:
        audio = read_wav(args.wav)
    except AudioError as exc:
        print(f"ivr simulate: {exc}", file=sys.stderr)
        return 2
    from ivr.engine import get_engine, quiet_libraries

    quiet_libraries()  # before pipecat is imported: it logs a banner at import
    from voice.call import VoiceConfig
    from voice.simulate import simulate
    from voice.turns import TurnConfig

    try:
        turns = TurnConfig(silence_ms=args.silence_ms)
    except ValueError as exc:
        print(f"ivr simulate: {exc}", file=sys.stderr)
        return 2
    from routing.policy import PolicyError

    try:
        engine = get_engine(db=args.db, policy_path=args.policy, with_nlu=args.bot == "triage")
    except PolicyError as exc:
        print(f"ivr simulate: policy: {exc}", file=sys.stderr)
        return 2

    from nlu.redact import redact

    def on_event(ev: dict) -> None:
        # Transcripts are shown with card numbers masked, like everything the service stores.
        print(redact(json.dumps(ev) if args.json else _human(ev)), flush=True)

    result = asyncio.run(
        simulate(
            audio,
            engine.models,
            engine.prompts,
            engine.responder(args.bot, caller_id=args.caller_id),
            fast=args.fast,
            config=VoiceConfig(turns=turns),
            on_event=on_event,
        )
    )
    if args.out:
        write_wav(args.out, result.bot_audio, result.out_rate)
    return 0


def _human(ev: dict) -> str:
    kind = ev["event"]
    if kind == "turn":
        return f"[{ev['start']:6.2f}-{ev['end']:6.2f}] caller: {ev['text']}"
    if kind == "bot":
        flag = " (interrupted)" if ev.get("interrupted") else ""
        start = ev.get("start")
        return f"[{start if start is not None else float('nan'):6.2f}] bot: {ev['text']}{flag}"
    return f"-- {kind}: {ev.get('outcome', '')}"


def _cmd_serve(args: argparse.Namespace) -> int:
    from ivr.serve import serve

    return serve(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    args.json_out = args.json_out or f"bench-results/{args.what}.json"
    if args.what == "transfer":
        from ivr.bench_transfer import run

        return run(args)
    from ivr.bench import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ivr", description="Voice contact-centre IVR with bot-first triage.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="run a recorded caller through the live-call pipeline")
    s.add_argument("wav", help="caller recording (WAV/FLAC/OGG, any rate and channel count)")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.add_argument("--fast", action="store_true", help="simulated clock: faster than real time, same results")
    s.add_argument("--out", help="write the bot's audio, time-aligned with the caller's, to this WAV")
    s.add_argument("--silence-ms", type=int, default=500, help="silence that ends a caller turn (default 500)")
    s.add_argument("--bot", choices=["triage", "echo"], default="triage",
                   help="triage: the NLU dialog and escalation policy (default); echo: reads back what it heard")
    s.add_argument("--db", default=":memory:", help="company database (SQLite file; default: fresh demo data in memory)")
    s.add_argument("--policy", help="escalation policy YAML (default: routing/data/policy.yaml)")
    s.add_argument("--caller-id", help="the caller's number, as SIP From would give it (finds the customer)")
    s.set_defaults(func=_cmd_simulate)

    v = sub.add_parser("serve", help="answer calls over SIP, transfer to agents, serve the HTTP API")
    v.add_argument("--config", help="YAML with any of: sip, http, db, company_db, policy, bot, agents, allow, ring_timeout, "
                                    "survey, refer, worker_id, heartbeat_s, worker_stale_s, invite_rate, invite_burst, rate_exempt, advertise, sip_tls, tls_cert, tls_key, max_calls, max_draining")
    v.add_argument("--sip", help="SIP listen address HOST:PORT (default 127.0.0.1:5070)")
    v.add_argument("--http", help="HTTP listen address HOST:PORT (default 127.0.0.1:8080)")
    v.add_argument("--db", help="store URL: sqlite:///var/ivr.db (default) or postgresql://... (or IVR_DB_URL)")
    v.add_argument("--company-db", dest="company_db", help="SQLite file with the company's data (demo data is seeded)")
    v.add_argument("--policy", help="escalation policy YAML to seed the store with (default routing/data/policy.yaml)")
    v.add_argument("--bot", choices=["triage", "echo"])
    v.add_argument("--agent", dest="agents", action="append", default=[],
                   help="an agent: SIP_URI or ID=SIP_URI;skills=a,b;password=... (repeatable)")
    v.add_argument("--allow", action="append", help="only these source addresses/networks may call (repeatable)")
    v.add_argument("--ring-timeout", dest="ring_timeout", type=float, help="seconds an agent's phone rings (default 20)")
    v.add_argument("--refer", action="store_const", const=True, default=None,
                   help="after the whisper, transfer by REFER with Replaces when the caller's side supports it")
    v.add_argument("--survey", action="store_const", const=True, default=None,
                   help="after the agent hangs up, ask the caller to rate the call 1-5 by DTMF")
    v.add_argument("--worker-id", dest="worker_id",
                   help="this worker's name in a cluster sharing one database (default HOSTNAME-SIPPORT)")
    v.add_argument("--invite-rate", dest="invite_rate", type=float,
                   help="new INVITEs per second allowed per source address (default 5; burst: --invite-burst)")
    v.add_argument("--invite-burst", dest="invite_burst", type=int, help="INVITE burst per source (default 20)")
    v.add_argument("--rate-exempt", dest="rate_exempt", action="append",
                   help="source address/network not rate-limited here, e.g. the Kamailio in front (repeatable)")
    v.add_argument("--advertise", help="address to put in Via/Contact/SDP (default: the --sip host, or 127.0.0.1 for 0.0.0.0)")
    v.add_argument("--sip-tls", dest="sip_tls", help="also serve SIP over TLS on HOST:PORT (needs --tls-cert, --tls-key)")
    v.add_argument("--tls-cert", dest="tls_cert", help="PEM certificate (chain) for --sip-tls")
    v.add_argument("--tls-key", dest="tls_key", help="PEM private key for --sip-tls")
    v.set_defaults(func=_cmd_serve)

    d = sub.add_parser("desktop-url", help="print an agent's desktop link (with their token)")
    d.add_argument("agent", help="agent id")
    d.add_argument("--http", default="127.0.0.1:8080", help="the service's HTTP address")
    d.set_defaults(func=lambda a: __import__("ivr.serve", fromlist=["desktop_url"]).desktop_url(a))

    c = sub.add_parser("call", help="place a test call over SIP and record what the bot says")
    from ivr import call_cli

    call_cli.add_arguments(c)
    c.set_defaults(func=lambda a: call_cli.run(a))

    e = sub.add_parser("eval", help="evaluations on real speech and labelled turns")
    esub = e.add_subparsers(dest="what", required=True)
    ef = esub.add_parser("frustration", help="AUC/F1 of prosody (Polish emotional speech), text and fused scores")
    from ivr import eval_frustration, train_frustration

    eval_frustration.add_arguments(ef)
    ef.set_defaults(func=lambda a: eval_frustration.run(a))

    t = sub.add_parser("train", help="re-fit models from labelled data")
    tsub = t.add_subparsers(dest="what", required=True)
    tf = tsub.add_parser("frustration", help="re-fit the frustration fusion weights from labelled turns")
    train_frustration.add_arguments(tf)
    tf.set_defaults(func=lambda a: train_frustration.run(a))

    b = sub.add_parser("bench", help="benchmarks")
    b.add_argument("what", choices=["pipeline", "transfer"])
    b.add_argument("--turns", type=int, default=20, help="caller turns to measure (default 20)")
    b.add_argument("--json", dest="json_out", help="where to write the figures (default bench-results/WHAT.json)")
    b.add_argument("--calls", type=int, default=5, help="transfer: calls to place (default 5)")
    b.add_argument("--no-baseline", action="store_true", help="skip pipecat's stock pipeline")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
