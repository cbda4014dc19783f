"""`ivr simulate`: a recorded caller through the live-call pipeline, offline; events printed as they happen."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys

from calls.events import BotEvent, CallEvent, DecisionEvent, EndEvent, TurnEvent
from ivr.startup import CACHE_HELP


def add_arguments(s: argparse.ArgumentParser) -> None:
    from voice.turns import TurnConfig

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

    from ivr.tools.call_cli import _parse_dtmf

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

    from nlu.redact import redact, redact_deep

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
        print(json.dumps(redact_deep(ev.to_json())) if args.json else redact(_human(ev)), flush=True)

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
