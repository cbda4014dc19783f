"""The `ivr` command: serve calls; the tools (simulate, call, users, warm, eval, train, bench) under ivr/tools/."""

from __future__ import annotations

import argparse
import sys

from ivr.startup import CACHE_HELP


def _cmd_serve(args: argparse.Namespace) -> int:
    from ivr.serve import serve

    return serve(args)


def build_parser() -> argparse.ArgumentParser:
    from ivr.tools import simulate_cli
    from ivr.tools.commands import add_tool_commands
    from voice.turns import TurnConfig

    p = argparse.ArgumentParser(prog="ivr", description="Voice contact-centre IVR with bot-first triage.")
    sub = p.add_subparsers(dest="command", required=True)

    simulate_cli.add_arguments(sub.add_parser("simulate", help="run a recorded caller through the live-call pipeline"))

    v = sub.add_parser("serve", help="answer calls over SIP, transfer to agents, serve the HTTP API")
    v.add_argument("--config", help="YAML with any of the settings (ivr/settings.py: sip, http, db, agents, ...); "
                                    "each is also IVR_<KEY> in the environment; flags > environment > file")
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
    v.add_argument("--log-format", dest="log_format", choices=["text", "json"],
                   help="text: readable lines (default); json: JSON lines with ts, level, logger, message, call_id")
    v.set_defaults(func=_cmd_serve)

    w = sub.add_parser("warm", help="build the start-up cache (fitted classifiers, prompts' audio) ahead of a start")
    from ivr.tools import warm_cli

    warm_cli.add_arguments(w)
    w.add_argument("--cache-dir", help=CACHE_HELP)
    w.set_defaults(func=lambda a: warm_cli.run(a))

    d = sub.add_parser("desktop-url", help="print an agent's desktop link (with their token)")
    d.add_argument("agent", help="agent id")
    d.add_argument("--http", default="127.0.0.1:8080", help="the service's HTTP address")
    d.set_defaults(func=lambda a: __import__("ivr.tools.desktop_url", fromlist=["desktop_url"]).desktop_url(a))

    u = sub.add_parser("users", help="web panel accounts: add, list")
    from ivr.tools import users_cli

    users_cli.add_arguments(u)
    u.set_defaults(func=lambda a: users_cli.run(a))

    c = sub.add_parser("call", help="place a test call over SIP and record what the bot says")
    from ivr.tools import call_cli

    call_cli.add_arguments(c)
    c.set_defaults(func=lambda a: call_cli.run(a))

    add_tool_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
