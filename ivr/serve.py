"""`ivr serve`: SIP calls through the bot, warm transfers to agents, the store, the HTTP API."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

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
    # Scale-out and reliability (see README "Production layout").
    "worker_id": None,  # default HOSTNAME-SIPPORT: stable across restarts, unique per machine and port
    "heartbeat_s": 2.0,
    "worker_stale_s": 10.0,  # a worker silent this long is dead: its open calls are closed as interrupted
    "invite_rate": 5.0,  # new INVITEs per second per source address (token bucket)...
    "invite_burst": 20,  # ...with this burst; excess gets 503, a sustained flood is dropped
    "rate_exempt": [],  # sources not rate-limited here (the Kamailio in front limits per source itself)
    # End of turn (voice.turns.TurnConfig) and Whisper's encoder window (voice.models.ModelConfig):
    # the defaults are the fast ones; `ivr bench latency --compare-legacy` serves the old ones.
    "silence_ms": None,
    "pause_ms": None,
    "number_wait_ms": None,  # silence allowed inside a number the bot asked for (EndOfTurnRule.pending_ms)
    "hesitation_ms": None,  # ...after a transcript that trails off (EndOfTurnRule.unfinished_ms)
    "smart_turn_ms": None,  # ask Smart Turn v3.2 at this silence (default 0: off; voice.smart_turn)
    "asr_fit": True,
    "max_calls": 200,  # calls at once on this worker; more get 503 (Kamailio fails over)
    "max_draining": 4,  # hung-up calls still finishing: more means overloaded, new calls get 503
    "advertise": None,  # address put in Via/Contact/SDP when --sip binds 0.0.0.0 or a NATed address
    "sip_tls": None,  # HOST:PORT for SIP over TLS (optional), with tls_cert and tls_key (PEM files)
    "tls_cert": None,
    "tls_key": None,
    # The start-up cache (fitted classifiers, prompts' audio; `ivr warm` fills it): None means
    # $IVR_CACHE_DIR, else var/cache; "off" rebuilds everything on every start.
    "cache_dir": None,
}


def turn_config(settings: dict):
    """End-of-turn settings from the service's (flags over config file over defaults)."""
    import dataclasses

    from voice.turns import TurnConfig

    base = TurnConfig(**{k: int(settings[k]) for k in ("silence_ms", "pause_ms", "smart_turn_ms")
                         if settings.get(k) is not None})
    waits = {f: int(settings[k]) for k, f in (("number_wait_ms", "pending_ms"), ("hesitation_ms", "unfinished_ms"))
             if settings.get(k) is not None}
    if any(v <= 0 for v in waits.values()):
        raise ValueError("number_wait_ms and hesitation_ms must be positive")
    return dataclasses.replace(base, end=dataclasses.replace(base.end, **waits)) if waits else base

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
    if os.environ.get("IVR_DB_URL") and not getattr(args, "db", None):
        # The database URL may hold a password: from the environment it stays out of `ps` and logs.
        settings["db"] = os.environ["IVR_DB_URL"]
    for key in DEFAULTS:
        value = getattr(args, key, None)
        if value is not None and value != []:
            settings[key] = value
    turn_config(settings)  # refuses bad values before anything starts
    parse_hostport(settings["sip"], 5070)
    parse_hostport(settings["http"], 8080)
    if settings["sip_tls"]:
        parse_hostport(settings["sip_tls"], 5061)
        if not (settings["tls_cert"] and settings["tls_key"]):
            raise ValueError("sip_tls: needs tls_cert and tls_key (PEM files)")
        for key in ("tls_cert", "tls_key"):
            if not Path(settings[key]).is_file():
                raise ValueError(f"{key}: no such file {settings[key]!r}")
    for net in [*(settings["allow"] or []), *(settings["rate_exempt"] or [])]:
        ipaddress.ip_network(net, strict=False)
    for key in ("heartbeat_s", "worker_stale_s", "invite_rate"):
        if float(settings[key]) <= 0:
            raise ValueError(f"{key}: must be > 0")
    if int(settings["max_calls"]) < 1 or int(settings["max_draining"]) < 1:
        raise ValueError("max_calls and max_draining: must be >= 1")
    if int(settings["invite_burst"]) < 1:
        raise ValueError("invite_burst: must be >= 1")
    if float(settings["worker_stale_s"]) < 2 * float(settings["heartbeat_s"]):
        raise ValueError("worker_stale_s: must be at least twice heartbeat_s")
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
    from web.desktop import agent_token

    try:
        host, port = parse_hostport(args.http, 8080)
    except ValueError as exc:
        print(f"ivr desktop-url: {exc}", file=sys.stderr)
        return 2
    print(f"http://{host}:{port}/desktop/{args.agent}?token={agent_token(server_secret({}), args.agent)}")
    return 0


def process_stats() -> dict:
    """Open file descriptors, resident memory and asyncio tasks of this process (leak checks)."""
    try:
        fds = len(os.listdir("/proc/self/fd"))
        with open("/proc/self/statm") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux
        fds, rss = -1, -1
    try:
        tasks = len(asyncio.all_tasks())
    except RuntimeError:
        tasks = -1
    return {"open_fds": fds, "rss_bytes": rss, "asyncio_tasks": tasks}


def _await_chain(task: asyncio.Task) -> str:
    """Where a task waits: its coroutine and every coroutine it awaits, outermost first."""
    parts, coro = [], task.get_coro()
    for _ in range(30):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        parts.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        if coro is None:
            break
    return " -> ".join(parts) or repr(task.get_coro())


def dump_tasks() -> None:
    """Log every asyncio task grouped by where it waits (finds calls that never end)."""
    groups: dict[str, int] = {}
    for task in asyncio.all_tasks():
        where = _await_chain(task)
        groups[where] = groups.get(where, 0) + 1
    for where, n in sorted(groups.items(), key=lambda kv: -kv[1]):
        log.warning("tasks: %d x %s", n, where)


def build_app(state: dict):
    from fastapi import FastAPI

    from web.api_docs import add_api_docs

    app = FastAPI(title="ivr", version="0.1.0", docs_url=None, redoc_url=None)  # ours: local assets
    add_api_docs(app)

    @app.get("/healthz")
    async def healthz() -> dict:  # async: runs in the loop, so it can count the loop's tasks
        cc = state.get("cc")
        store = state.get("store")
        endpoint = state.get("endpoint")
        return {
            "status": "ok",
            "calls_active": len(cc.active) if cc else 0,
            "calls_total": cc.total if cc else 0,
            "calls_draining": cc.draining() if cc else 0,
            "sip": state["sip"],
            "worker": state.get("worker"),
            "store": {"backlog": store.backlog, "database_reachable": store.outage_since is None,
                      "write_errors": store.write_errors, "write_retries": store.write_retries,
                      "listening": store.listening} if store else None,
            "sip_stats": endpoint.stats() if endpoint else None,
            "process": process_stats(),
        }

    @app.get("/metrics", include_in_schema=False)
    def metrics():
        from fastapi import Response

        from web.prometheus import CONTENT_TYPE

        cc = state.get("cc")
        return Response(cc.metrics.render() if cc else b"", media_type=CONTENT_TYPE)

    return app


def add_web(app, store, cc, directory, secret: str) -> None:
    """The panel, the API and the agent desktop, all behind one sign-in (``web.auth``)."""
    from web.api import add_api_routes
    from web.auth import Auth
    from web.desktop import agent_token, desktop_routes
    from web.panel import add_panel_routes

    auth = Auth(store.accounts, admin_token=os.environ.get("IVR_ADMIN_TOKEN"))
    add_api_routes(app, store, auth)
    add_panel_routes(app, store, auth)
    app.include_router(desktop_routes(cc.hub, directory, token_for_agent=lambda a: agent_token(secret, a),
                                      auth=auth, on_disposition=cc.disposition))


async def _serve(settings: dict) -> int:
    from ivr.engine import get_engine
    from voice.models import ModelConfig

    loop = asyncio.get_running_loop()
    # The engine (models, NLU, prompts) is the longest step: it starts first, and the rest of
    # the service is imported and opened beside it (the store's migrations included).
    engine_job = loop.run_in_executor(None, lambda: get_engine(
        ModelConfig(fit_encoder=bool(settings["asr_fit"])), db=settings["company_db"],
        policy_path=settings["policy"], with_nlu=settings["bot"] == "triage", cache_dir=settings["cache_dir"]))
    import uvicorn

    from ivr.contact_center import ContactCenter
    from routing.agents import AgentDirectory, load_agents
    from store import Store
    from routing.transfer import TransferConfig
    from telephony import AdmissionConfig, DigestRegistrar, EndpointConfig, SipEndpoint, TlsConfig
    from telephony.ratelimit import SourceLimiter

    sip_host, sip_port = parse_hostport(settings["sip"], 5070)
    http_host, http_port = parse_hostport(settings["http"], 8080)
    url = settings["db"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    from routing.policy import DEFAULT_POLICY_PATH

    seed = settings["policy"] or DEFAULT_POLICY_PATH
    from voice.call import VoiceConfig

    store = await loop.run_in_executor(None, lambda: Store(url, seed_policy_path=seed))
    import web.api, web.auth, web.desktop, web.panel  # noqa: E401,F401  (add_web's, imported meanwhile)

    engine = await engine_job
    worker_id = settings["worker_id"] or f"{socket.gethostname()}-{sip_port}"[:64]
    claims = None
    if store.url.startswith("postgres"):  # workers share agents: claim each in the database before ringing
        claims = SimpleNamespace(claim=store.claim_agent, release=store.release_agent)
    voice = VoiceConfig(turns=turn_config(settings))
    directory = AgentDirectory(load_agents(settings["agents"]), claims=claims)
    shared = None
    if claims is not None:  # away/available and REGISTER bindings, the same on every worker
        from routing.shared_presence import SharedPresence

        shared = SharedPresence(directory, store, worker_id)
    secret = server_secret(settings)
    cc = ContactCenter(engine, store, directory, secret=secret, bot=settings["bot"], survey=bool(settings["survey"]),
                       voice=voice, transfer=TransferConfig(ring_timeout_s=float(settings["ring_timeout"]),
                                               refer_when_supported=bool(settings["refer"])))
    state: dict = {"cc": cc, "sip": None, "store": store, "worker": worker_id}
    # Agents' phones REGISTER; with several workers the binding is shared through the store.
    registrar = DigestRegistrar(directory.password_for, shared.on_register if shared else directory.on_register)
    limiter = SourceLimiter(float(settings["invite_rate"]), int(settings["invite_burst"]))
    tls = tls_host = None
    tls_port = 0
    if settings["sip_tls"]:
        import ssl

        tls_host, tls_port = parse_hostport(settings["sip_tls"], 5061)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(settings["tls_cert"], settings["tls_key"])
    sip_config = EndpointConfig(sip_host, sip_port, advertise=settings["advertise"],
                                admission=AdmissionConfig(max_calls=int(settings["max_calls"]), allow=settings["allow"],
                                                          limit_exempt=settings["rate_exempt"] or ()),
                                tls=TlsConfig(server=tls, host=tls_host, port=tls_port))
    endpoint = SipEndpoint(sip_config, cc.handle_call, registrar=registrar, invite_limit=limiter,
                           admit=lambda: cc.draining() < int(settings["max_draining"]))
    cc.attach(endpoint)
    await endpoint.start()
    state["sip"] = f"{sip_host}:{endpoint.port}"
    if tls is not None:
        state["sip_tls"] = f"{tls_host}:{endpoint.tls_port}"
    state["endpoint"] = endpoint
    closed = await loop.run_in_executor(None, lambda: store.register_worker(
        worker_id, sip=state["sip"], heartbeat_s=float(settings["heartbeat_s"]),
        stale_s=float(settings["worker_stale_s"])))
    if closed:
        log.warning("worker %s: %d call(s) left open by its previous run closed as interrupted", worker_id, len(closed))
    if shared is not None:
        store.on_agent_claims(lambda holders: directory.sync_claims(holders, worker_id), loop=loop)
        directory.sync_claims(await store.run(store.agent_claims), worker_id)
        store.on_agent_presence(shared.sync, loop=loop)
        shared.sync(await store.run(store.agent_presence))
        store.on_agent_bindings(shared.sync_bindings, loop=loop)
        shared.sync_bindings(await store.run(store.agent_bindings))
    app = build_app(state)
    add_web(app, store, cc, directory, secret)
    server = uvicorn.Server(uvicorn.Config(app, host=http_host, port=http_port, log_level="warning"))
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, dump_tasks)  # `kill -USR1 PID`: where every task waits
    server_task = asyncio.create_task(server.serve())
    from ivr.memory import trim_every

    trimmer = asyncio.create_task(trim_every(30.0))
    while not server.started:  # uvicorn offers a flag, not an event: say "ready" only once bound
        if server_task.done():
            await server_task
            print("ivr serve: the HTTP server did not start (address in use?)", file=sys.stderr)
            return 1
        await asyncio.sleep(0.02)
    if not await loop.run_in_executor(None, store.accounts.list_users):
        print("ivr: no panel accounts yet: create one with `ivr users add NAME --role admin`", file=sys.stderr)
    for agent in directory:  # the token is a credential: never printed; `ivr desktop-url` makes the link
        print(f"ivr: agent {agent.id}: desktop link from `ivr desktop-url {agent.id}`", file=sys.stderr)
    tls_note = f", SIP over TLS {state['sip_tls']}" if state.get("sip_tls") else ""
    print(f"ivr: ready (SIP {state['sip']}{tls_note}, HTTP http://{http_host}:{http_port})", file=sys.stderr, flush=True)
    await asyncio.wait([server_task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    trimmer.cancel()
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
    from ivr.memory import limit_arenas

    limit_arenas()  # before any model thread allocates
    return asyncio.run(_serve(settings))
