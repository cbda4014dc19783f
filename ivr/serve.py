"""`ivr serve`, composed: settings in, one Service built from them, run until a signal.

`build_service(settings)` opens everything a worker needs (the engine, the store, the agents,
the contact centre, the SIP endpoint, the web app) and `run(service)` serves HTTP, says
"ready", and on SIGINT/SIGTERM drains (503 to new calls, /readyz 503, calls in progress finish
up to `drain_deadline` or a second signal), then closes it all in order. Nothing here decides
anything about a call: that is routing's, the bot's and ivr.call_session's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from ivr.settings import Settings, load_settings, parse_hostport, turn_config

__all__ = ["Service", "build_app", "build_service", "run", "serve", "server_secret"]

log = logging.getLogger("ivr")


def server_secret(settings: Settings) -> str:
    """IVR_SECRET, or the one kept in ``secret_file`` (web.desktop.kept_secret)."""
    from web.desktop import kept_secret

    given = settings.secret.get_secret_value() if settings.secret is not None else None
    return kept_secret(given, settings.secret_file)


def build_app(state: dict, directory=None, secret: str | None = None, admin_token: str | None = None):
    """The HTTP side of this worker (`web.app.create_app`): health and metrics from ``state``, the
    API and the panel over its store behind one sign-in (``web.auth``), the agent desktop when
    there is a contact centre."""
    from web.app import create_app
    from web.auth import Auth
    from web.dependencies import DesktopDeps, WebDeps
    from web.desktop import hmac_tokens
    from web.routers.health import process_stats

    cc, store = state.get("cc"), state.get("store")

    def health() -> dict:  # web.routers.health calls it in the loop, so it can count the loop's tasks
        endpoint = state.get("endpoint")
        return {
            "calls_active": len(cc.active) if cc else 0,
            "calls_total": cc.total if cc else 0,
            "calls_draining": cc.draining() if cc else 0,
            "sip": state["sip"],
            "draining": bool(state.get("draining")),
            "worker": state.get("worker"),
            "store": {"backlog": store.backlog, "database_reachable": store.outage_since is None,
                      "write_errors": store.write_errors, "write_retries": store.write_retries,
                      "listening": store.listening} if store else None,
            "sip_stats": endpoint.stats() if endpoint else None,
            "process": process_stats(),  # web.routers.health
        }

    desktop = None
    if cc is not None and directory is not None and secret is not None:
        revoked = store.desktop_links.not_before if store is not None else None  # `ivr desktop-url --revoke`
        desktop = DesktopDeps(cc.hub, directory, hmac_tokens(secret, revoked), cc.disposition, cc.handbacks.request)
    auth = Auth(store.accounts, admin_token=admin_token, failures=store.auth_failures) if store is not None else None
    return create_app(WebDeps(store=store, auth=auth, desktop=desktop, metrics=cc.metrics if cc else None,
                              health=health))


@dataclass(frozen=True)
class Service:
    """One worker, built and bound: what `run` serves and then closes."""

    settings: Settings
    store: object  # store.Store
    cc: object  # ivr.contact_center.ContactCenter
    directory: object  # routing.agents.AgentDirectory
    endpoint: object  # telephony.SipEndpoint, started
    app: object  # the FastAPI app, not yet served
    worker_id: str
    state: dict = field(default_factory=dict)  # what /healthz reports


async def build_service(settings: Settings) -> Service:
    """Everything a worker needs, opened side by side where it can be; the SIP endpoint is bound."""
    from ivr.engine import get_engine
    from voice.models import ModelConfig

    loop = asyncio.get_running_loop()
    # The engine (models, NLU, prompts) is the longest step: it starts first, the rest beside it.
    engine_job = loop.run_in_executor(None, lambda: get_engine(
        ModelConfig(fit_encoder=settings.asr_fit, second_path=settings.asr_second), db=settings.company_db,
        policy_path=settings.policy, with_nlu=settings.bot == "triage", cache_dir=settings.cache_dir))
    import uvicorn  # noqa: F401  (run's, imported meanwhile)

    from ivr.contact_center import ContactCenter
    from routing.agents import AgentDirectory, load_agents
    from routing.policy import DEFAULT_POLICY_PATH
    from routing.staffing import load_skills
    from routing.transfer import TransferConfig
    from store import Store
    from voice.call import VoiceConfig

    sip_host, sip_port = parse_hostport(settings.sip, 5070)
    url = settings.db
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    seed = settings.policy or DEFAULT_POLICY_PATH
    store = await loop.run_in_executor(None, lambda: Store(url, seed_policy_path=seed, sip_block_s=settings.sip_block_s))
    import web.app  # noqa: F401  (build_app's, imported meanwhile)

    engine = await engine_job
    worker_id = settings.worker_id or f"{socket.gethostname()}-{sip_port}"[:64]
    claims = None
    if store.url.startswith("postgres"):  # workers share agents: claim each in the database before ringing
        claims = SimpleNamespace(claim=store.claim_agent, release=store.release_agent)
    directory = AgentDirectory(load_agents(settings.agents), claims=claims)
    shared = None
    if claims is not None:  # away/available and REGISTER bindings, the same on every worker
        from routing.shared_presence import SharedPresence

        shared = SharedPresence(directory, store, worker_id)
    secret = server_secret(settings)
    transfer = TransferConfig(ring_timeout_s=settings.ring_timeout, refer_when_supported=settings.refer, pbx=settings.pbx)
    cc = ContactCenter(engine, store, directory, secret=secret, bot=settings.bot, survey=settings.survey,
                       voice=VoiceConfig(turns=turn_config(settings)), skills=load_skills(seed), transfer=transfer,
                       callbacks=settings.callback)
    state: dict = {"cc": cc, "sip": None, "store": store, "worker": worker_id}
    endpoint = sip_endpoint(settings, cc, directory, shared)
    cc.attach(endpoint)
    await endpoint.start()
    state["sip"] = f"{sip_host}:{endpoint.port}"
    if settings.sip_tls:
        state["sip_tls"] = f"{parse_hostport(settings.sip_tls, 5061)[0]}:{endpoint.tls_port}"
    state["endpoint"] = endpoint
    cc.metrics.watch_service(cc.queue, directory, store, endpoint.media_totals, engine.models.asr_stats.totals)
    closed = await loop.run_in_executor(None, lambda: store.register_worker(
        worker_id, sip=state["sip"], heartbeat_s=settings.heartbeat_s, stale_s=settings.worker_stale_s))
    if closed:
        log.warning("worker %s: %d call(s) left open by its previous run closed as interrupted", worker_id, len(closed))
    if shared is not None:
        store.on_agent_claims(lambda holders: directory.sync_claims(holders, worker_id), loop=loop)
        directory.sync_claims(await store.run(store.agent_claims), worker_id)
        store.on_agent_presence(shared.sync, loop=loop)
        shared.sync(await store.run(store.agent_presence))
        store.on_agent_bindings(shared.sync_bindings, loop=loop)
        shared.sync_bindings(await store.run(store.agent_bindings))
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    app = build_app(state, directory, secret, admin_token or None)
    return Service(settings, store, cc, directory, endpoint, app, worker_id, state)


def sip_endpoint(settings: Settings, cc, directory, shared):
    """The SIP endpoint as the settings describe it, answering with the contact centre (not started)."""
    from routing.agents import REALM
    from telephony import AdmissionConfig, DigestRegistrar, EndpointConfig, MediaConfig, SipEndpoint, TlsConfig
    from telephony.endpoint_config import port_range
    from telephony.ratelimit import SourceLimiter

    sip_host, sip_port = parse_hostport(settings.sip, 5070)
    # Agents' phones REGISTER (HA1s from the store, else the config; failures counted in the store).
    store, admission = cc.store, AdmissionConfig(max_calls=settings.max_calls, allow=settings.allow,
                                                 limit_exempt=settings.rate_exempt or ())
    registrar = DigestRegistrar(store.sip_credentials.lookup(directory, REALM) if store else directory.credentials_for,
                                shared.on_register if shared else directory.on_register, realm=REALM,
                                guard=store.auth_failures.guard("sip") if store else None, trusted=admission.exempt)
    limiter = SourceLimiter(settings.invite_rate, settings.invite_burst)
    tls = tls_host = None
    tls_port = 0
    if settings.sip_tls:
        import ssl

        tls_host, tls_port = parse_hostport(settings.sip_tls, 5061)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(settings.tls_cert, settings.tls_key)
    config = EndpointConfig(sip_host, sip_port, advertise=settings.advertise, media_host=settings.media_host,
                            media=MediaConfig(rtp_ports=port_range(settings.rtp_ports), srtp=settings.srtp,
                                              srtp_insecure_signalling=settings.srtp_insecure_signalling),
                            admission=admission, tls=TlsConfig(server=tls, host=tls_host, port=tls_port))
    return SipEndpoint(config, cc.handle_call, registrar=registrar, invite_limit=limiter,
                       admit=lambda: cc.draining() < settings.max_draining)


async def run(service: Service) -> int:
    """Serve HTTP, say "ready" once bound; on SIGINT/SIGTERM drain, then close the endpoint, the
    server, the store."""
    import uvicorn

    from ivr.memory import trim_every
    from ivr.tools.task_dump import dump_tasks
    from ivr.tools.users_cli import first_admin

    loop = asyncio.get_running_loop()
    store, state, directory = service.store, service.state, service.directory
    http_host, http_port = parse_hostport(service.settings.http, 8080)
    # uvicorn without its own signal handlers: the signal is ours (it drains) and HTTP goes on serving.
    server = type("Server", (uvicorn.Server,), {"capture_signals": contextlib.nullcontext})(
        uvicorn.Config(service.app, host=http_host, port=http_port, log_level="warning"))
    stop, again = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:  # the first signal drains, a second one stops at once
        (again if stop.is_set() else stop).set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    loop.add_signal_handler(signal.SIGUSR1, dump_tasks)  # `kill -USR1 PID`: where every task waits
    server_task = asyncio.create_task(server.serve())
    trimmer = asyncio.create_task(trim_every(30.0))
    while not server.started:  # uvicorn offers a flag, not an event: say "ready" only once bound
        if server_task.done():
            await server_task
            print("ivr serve: the HTTP server did not start (address in use?)", file=sys.stderr)
            return 1
        await asyncio.sleep(0.02)
    admin, password = service.settings.admin_user, service.settings.admin_password
    if await loop.run_in_executor(None, first_admin, admin, password and password.get_secret_value(), store.accounts):
        print(f"ivr: created the first admin {admin!r} from IVR_ADMIN_USER", file=sys.stderr)
    elif not await loop.run_in_executor(None, store.accounts.list_users):
        print("ivr: no panel accounts yet: create one with `ivr users add NAME --role admin`", file=sys.stderr)
    for agent in directory:  # the token is a credential: never printed; `ivr desktop-url` makes the link
        print(f"ivr: agent {agent.id}: desktop link from `ivr desktop-url {agent.id}`", file=sys.stderr)
    tls_note = f", SIP over TLS {state['sip_tls']}" if state.get("sip_tls") else ""
    print(f"ivr: ready (SIP {state['sip']}{tls_note}, HTTP http://{http_host}:{http_port})", file=sys.stderr, flush=True)
    await asyncio.wait([server_task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    if stop.is_set() and not server_task.done():  # drain: 503 to new calls, /readyz 503, calls finish
        state["draining"] = True
        print(f"ivr: draining ({len(service.endpoint.calls)} call(s) in progress)", file=sys.stderr, flush=True)
        if not await service.endpoint.drain(service.settings.drain_deadline, again):
            log.warning("drain: calls still up at the deadline (or a second signal): hanging them up")
    server.should_exit = True
    trimmer.cancel()
    await service.cc.callbacks.stop()
    await service.endpoint.stop()
    await server_task
    await store.aclose()
    return 0


def serve(args) -> int:
    """`ivr serve`: settings checked before anything starts (exit 2 naming the bad key), then served."""
    from ivr.engine import quiet_libraries
    from ivr.logs import configure_logging

    quiet_libraries()
    try:
        settings = load_settings(args)
        from routing.agents import load_agents

        load_agents(settings.agents)
    except ValueError as exc:
        print(f"ivr serve: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, secrets=settings.secret_values())
    from ivr.memory import limit_arenas

    limit_arenas()  # before any model thread allocates
    return asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> int:
    return await run(await build_service(settings))
