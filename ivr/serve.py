"""`ivr serve`: SIP calls through the bot, warm transfers to agents, the store, the HTTP API."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import sys
from pathlib import Path

import yaml

log = logging.getLogger("ivr")

DEFAULTS = {
    "sip": "127.0.0.1:5070",
    "http": "127.0.0.1:8080",
    "db": "sqlite:///var/ivr.db",
    "company_db": "var/company.db",
    "policy": None,
    "bot": "triage",
    "agents": [],
    "allow": None,
    "ring_timeout": 20.0,
    "survey": False,
    "refer": False,
    # End of turn (voice.turns.TurnConfig) and Whisper's encoder window (voice.models.ModelConfig):
    # the defaults are the fast ones; `ivr bench latency --compare-legacy` serves the old ones.
    "silence_ms": None,
    "pause_ms": None,
    "asr_fit": True,
}


def parse_hostport(value: str, default_port: int) -> tuple[str, int]:
    """'127.0.0.1:5070', '[::1]:5070', 'host' → (host, port)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, sep, port = value.rpartition(":")
        if not sep:
            host, port = value, ""
    if not host:
        raise ValueError(f"no host in {value!r}")
    try:
        p = int(port) if port else default_port
    except ValueError:
        raise ValueError(f"bad port in {value!r}") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"port out of range in {value!r}")
    return host, p


def resolve_settings(args) -> dict:
    """Embedded defaults, then the config file, then flags: each later one wins."""
    settings = dict(DEFAULTS)
    if getattr(args, "config", None):
        try:
            doc = yaml.safe_load(Path(args.config).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"--config {args.config}: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError(f"--config {args.config}: must be a mapping")
        unknown = set(doc) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"--config {args.config}: unknown setting {sorted(unknown)[0]!r}")
        settings.update(doc)
    for key in DEFAULTS:
        value = getattr(args, key, None)
        if value is not None and value != []:
            settings[key] = value
    if settings["silence_ms"] is not None or settings["pause_ms"] is not None:
        from voice.turns import TurnConfig

        TurnConfig(**{k: int(settings[k]) for k in ("silence_ms", "pause_ms") if settings[k] is not None})
    parse_hostport(settings["sip"], 5070)
    parse_hostport(settings["http"], 8080)
    for net in settings["allow"] or []:
        ipaddress.ip_network(net, strict=False)
    return settings


def server_secret(settings: dict) -> str:
    """IVR_SECRET, or a secret kept beside the store (created once, readable by this user only).

    It signs the agents' desktop tokens, so it must survive restarts and never reach a log.
    """
    env = os.environ.get("IVR_SECRET")
    if env:
        return env
    path = Path(settings.get("secret_file") or "var/ivr-secret")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(os.urandom(24).hex())
    return path.read_text().strip()


def desktop_url(args) -> int:
    """`ivr desktop-url AGENT`: the link an agent opens (it carries their token)."""
    from routing.desktop import agent_token

    try:
        host, port = parse_hostport(args.http, 8080)
    except ValueError as exc:
        print(f"ivr desktop-url: {exc}", file=sys.stderr)
        return 2
    print(f"http://{host}:{port}/desktop/{args.agent}?token={agent_token(server_secret({}), args.agent)}")
    return 0


def build_app(state: dict):
    from fastapi import FastAPI

    app = FastAPI(title="ivr", version="0.1.0")

    @app.get("/healthz")
    def healthz() -> dict:
        cc = state.get("cc")
        return {
            "status": "ok",
            "calls_active": len(cc.active) if cc else 0,
            "calls_total": cc.total if cc else 0,
            "sip": state["sip"],
        }

    return app


async def _serve(settings: dict) -> int:
    import uvicorn

    from ivr.contact_center import ContactCenter
    from ivr.engine import get_engine
    from routing.agents import AgentDirectory, load_agents
    from routing.api import add_api_routes
    from routing.desktop import agent_token, desktop_routes
    from routing.store import Store
    from routing.transfer import TransferConfig
    from telephony import SipEndpoint
    from telephony.endpoint import DigestRegistrar

    sip_host, sip_port = parse_hostport(settings["sip"], 5070)
    http_host, http_port = parse_hostport(settings["http"], 8080)
    loop = asyncio.get_running_loop()
    url = settings["db"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    from routing.policy import DEFAULT_POLICY_PATH

    seed = settings["policy"] or DEFAULT_POLICY_PATH
    store = await loop.run_in_executor(None, lambda: Store(url, seed_policy_path=seed))
    from voice.call import VoiceConfig
    from voice.models import ModelConfig
    from voice.turns import TurnConfig

    engine = await loop.run_in_executor(
        None, lambda: get_engine(ModelConfig(fit_encoder=bool(settings["asr_fit"])), db=settings["company_db"],
                                 policy_path=settings["policy"], with_nlu=settings["bot"] == "triage")
    )
    turn_args = {k: int(settings[k]) for k in ("silence_ms", "pause_ms") if settings[k] is not None}
    voice = VoiceConfig(turns=TurnConfig(**turn_args))
    directory = AgentDirectory(load_agents(settings["agents"]))
    secret = server_secret(settings)
    cc = ContactCenter(engine, store, directory, secret=secret, bot=settings["bot"], survey=bool(settings["survey"]),
                       voice=voice, transfer=TransferConfig(ring_timeout_s=float(settings["ring_timeout"]),
                                               refer_when_supported=bool(settings["refer"])))
    state: dict = {"cc": cc, "sip": None}
    registrar = DigestRegistrar(directory.password_for, directory.on_register)  # agents' phones REGISTER
    endpoint = SipEndpoint(sip_host, sip_port, cc.handle_call, allow=settings["allow"], registrar=registrar)
    cc.attach(endpoint)
    await endpoint.start()
    state["sip"] = f"{sip_host}:{endpoint.port}"
    app = build_app(state)
    add_api_routes(app, store, admin_token=os.environ.get("IVR_ADMIN_TOKEN"))
    app.include_router(desktop_routes(cc.hub, directory, token_for_agent=lambda a: agent_token(secret, a)))
    server = uvicorn.Server(uvicorn.Config(app, host=http_host, port=http_port, log_level="warning"))
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server_task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers a flag, not an event: say "ready" only once bound
        if server_task.done():
            await server_task
            print("ivr serve: the HTTP server did not start (address in use?)", file=sys.stderr)
            return 1
        await asyncio.sleep(0.02)
    for agent in directory:  # the token is a credential: never printed; `ivr desktop-url` makes the link
        print(f"ivr: agent {agent.id}: desktop link from `ivr desktop-url {agent.id}`", file=sys.stderr)
    print(f"ivr: ready (SIP {state['sip']}, HTTP http://{http_host}:{http_port})", file=sys.stderr, flush=True)
    await asyncio.wait([server_task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await endpoint.stop()
    await server_task
    await store.aclose()
    return 0


def serve(args) -> int:
    from ivr.engine import quiet_libraries

    quiet_libraries()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    try:
        settings = resolve_settings(args)
        from routing.agents import load_agents

        load_agents(settings["agents"])
    except ValueError as exc:
        print(f"ivr serve: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(settings))
