"""The `ivr` command: simulate a recorded call, serve calls, benchmark."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys

from calls.events import BotEvent, CallEvent, DecisionEvent, EndEvent, TurnEvent


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

    from ivr.call_cli import _parse_dtmf

    try:
        turns = TurnConfig(silence_ms=args.silence_ms, pause_ms=args.pause_ms)
        keys = _parse_dtmf(args.dtmf or [])
    except ValueError as exc:
        print(f"ivr simulate: {exc}", file=sys.stderr)
        return 2
    from routing.policy import PolicyError

    try:
        engine = get_engine(db=args.db, policy_path=args.policy, with_nlu=args.bot == "triage", cache_dir=args.cache_dir)
    except PolicyError as exc:
        print(f"ivr simulate: policy: {exc}", file=sys.stderr)
        return 2

    from nlu.redact import redact

    store, call_id = None, None
    responder = engine.responder(args.bot, caller_id=args.caller_id)
    if args.store:
        # The service's own store: the policy in force there decides, and the call is kept there
        # (it shows in the panel like a phone call).
        from store import Store

        try:
            store = Store(args.store)
        except Exception as exc:
            print(f"ivr simulate: cannot open the store: {type(exc).__name__}", file=sys.stderr)
            return 2
        version, policy = store.current_policy()
        engine.policy = policy
        if hasattr(responder, "set_policy"):
            responder.set_policy(policy)
        call_id = store.call_started(f"simulate:{args.wav}", args.caller_id)

    def on_event(ev: CallEvent) -> None:
        # Transcripts are shown with card numbers masked, like everything the service stores.
        if store is not None and not isinstance(ev, EndEvent):
            if isinstance(ev, DecisionEvent):
                ev = dataclasses.replace(ev, policy_version=version)
            store.record_event(call_id, ev)
        print(redact(json.dumps(ev.to_json()) if args.json else _human(ev)), flush=True)

    result = None
    try:
        result = asyncio.run(
            simulate(
                audio,
                engine.models,
                engine.prompts,
                responder,
                fast=args.fast,
                config=VoiceConfig(turns=turns),
                on_event=on_event,
                keys=keys,
            )
        )
    finally:
        if store is not None:
            from calls.outcome import OUTCOMES

            outcome = result.outcome if result is not None else None
            store.call_ended(call_id, outcome if outcome in OUTCOMES else None, abruptly=outcome is None)
            store.close()
    if args.out:
        write_wav(args.out, result.bot_audio, result.out_rate)
    return 0


def _human(ev: CallEvent) -> str:
    if isinstance(ev, TurnEvent):
        return f"[{ev.start:6.2f}-{ev.end:6.2f}] caller: {ev.text}"
    if isinstance(ev, BotEvent):
        flag = " (interrupted)" if ev.interrupted else ""
        start = ev.start
        return f"[{start if start is not None else float('nan'):6.2f}] bot: {ev.text}{flag}"
    return f"-- {ev.type}: {ev.outcome if isinstance(ev, EndEvent) else ''}"


def _cmd_serve(args: argparse.Namespace) -> int:
    from ivr.serve import serve

    return serve(args)


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


CACHE_HELP = ("start-up cache folder: fitted classifiers and prompts' audio, rebuilt per entry when what made it "
              "changes (default $IVR_CACHE_DIR, else var/cache; 'off': none)")


def build_parser() -> argparse.ArgumentParser:
    from voice.turns import TurnConfig

    p = argparse.ArgumentParser(prog="ivr", description="Voice contact-centre IVR with bot-first triage.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="run a recorded caller through the live-call pipeline")
    s.add_argument("wav", help="caller recording (WAV/FLAC/OGG, any rate and channel count)")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.add_argument("--fast", action="store_true", help="simulated clock: faster than real time, same results")
    s.add_argument("--out", help="write the bot's audio, time-aligned with the caller's, to this WAV")
    s.add_argument("--silence-ms", type=int, default=TurnConfig.silence_ms,
                   help=f"silence that ends a caller turn whatever was said (default {TurnConfig.silence_ms})")
    s.add_argument("--pause-ms", type=int, default=TurnConfig.pause_ms,
                   help=f"pause at which the turn so far is transcribed, and ended if it reads as finished; 0: off (default {TurnConfig.pause_ms})")
    s.add_argument("--bot", choices=["triage", "echo"], default="triage",
                   help="triage: the NLU dialog and escalation policy (default); echo: reads back what it heard")
    s.add_argument("--db", default=":memory:", help="company database (SQLite file; default: fresh demo data in memory)")
    s.add_argument("--policy", help="escalation policy YAML (default: routing/data/policy.yaml)")
    s.add_argument("--caller-id", help="the caller's number, as SIP From would give it (finds the customer)")
    s.add_argument("--dtmf", action="append", help="press a key at a time of the recording: DIGIT@SECONDS (repeatable)")
    s.add_argument("--store", help="the service's store URL: decide by the policy in force there and keep the call "
                                   "there (it shows in the panel)")
    s.add_argument("--cache-dir", help=CACHE_HELP)
    s.set_defaults(func=_cmd_simulate)

    v = sub.add_parser("serve", help="answer calls over SIP, transfer to agents, serve the HTTP API")
    v.add_argument("--config", help="YAML with any of: sip, http, db, company_db, policy, bot, agents, allow, ring_timeout, "
                                    "survey, refer, cache_dir, worker_id, heartbeat_s, worker_stale_s, invite_rate, invite_burst, rate_exempt, advertise, sip_tls, tls_cert, tls_key, max_calls, max_draining")
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
    v.add_argument("--silence-ms", dest="silence_ms", type=int,
                   help=f"silence that ends a caller turn whatever was said (default {TurnConfig.silence_ms})")
    v.add_argument("--pause-ms", dest="pause_ms", type=int,
                   help=f"pause at which the turn is transcribed and ended if it reads as finished; 0: off (default {TurnConfig.pause_ms})")
    v.add_argument("--number-wait-ms", dest="number_wait_ms", type=int,
                   help="silence allowed inside a number the bot asked for, read in groups (default 2000)")
    v.add_argument("--hesitation-ms", dest="hesitation_ms", type=int,
                   help="silence allowed after words that trail off ('I want to move, uh...') (default 1500)")
    v.add_argument("--smart-turn-ms", dest="smart_turn_ms", type=int,
                   help="also ask Smart Turn v3.2 at this silence whether the voice sounds finished (default 0: off)")
    v.add_argument("--asr-full-window", dest="asr_fit", action="store_const", const=False, default=None,
                   help="Whisper over its standard 30 s window (slower; default: the encoder fitted to the utterance)")
    v.add_argument("--advertise", help="address to put in Via/Contact/SDP (default: the --sip host, or 127.0.0.1 for 0.0.0.0)")
    v.add_argument("--sip-tls", dest="sip_tls", help="also serve SIP over TLS on HOST:PORT (needs --tls-cert, --tls-key)")
    v.add_argument("--tls-cert", dest="tls_cert", help="PEM certificate (chain) for --sip-tls")
    v.add_argument("--tls-key", dest="tls_key", help="PEM private key for --sip-tls")
    v.add_argument("--cache-dir", dest="cache_dir", help=CACHE_HELP)
    v.set_defaults(func=_cmd_serve)

    w = sub.add_parser("warm", help="build the start-up cache (fitted classifiers, prompts' audio) ahead of a start")
    from ivr import warm_cli

    warm_cli.add_arguments(w)
    w.add_argument("--cache-dir", help=CACHE_HELP)
    w.set_defaults(func=lambda a: warm_cli.run(a))

    d = sub.add_parser("desktop-url", help="print an agent's desktop link (with their token)")
    d.add_argument("agent", help="agent id")
    d.add_argument("--http", default="127.0.0.1:8080", help="the service's HTTP address")
    d.set_defaults(func=lambda a: __import__("ivr.serve", fromlist=["desktop_url"]).desktop_url(a))

    u = sub.add_parser("users", help="web panel accounts: add, list")
    from ivr import users_cli

    users_cli.add_arguments(u)
    u.set_defaults(func=lambda a: users_cli.run(a))

    c = sub.add_parser("call", help="place a test call over SIP and record what the bot says")
    from ivr import call_cli

    call_cli.add_arguments(c)
    c.set_defaults(func=lambda a: call_cli.run(a))

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
    b.add_argument("--renderings", type=int, default=None,
                   help="capacity: Piper renderings of the scripted lines, each a different sample (default 60)")
    b.add_argument("--no-baseline", action="store_true", help="skip pipecat's stock pipeline")
    b.add_argument("--runs", type=int, default=3, help="startup: rounds of (cold, warm[, --compare]) starts (default 3)")
    b.add_argument("--compare", metavar="CHECKOUT",
                   help="startup: also start another checkout's `ivr serve` each round (e.g. main, for the figures before)")
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
