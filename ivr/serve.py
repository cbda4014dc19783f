"""`ivr serve`: the SIP endpoint, each call through the voice pipeline, and the HTTP API."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import signal
import sys

log = logging.getLogger("ivr")


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


def _caller_number(uri: str) -> str | None:
    """'sip:+15551234567@host' → '+15551234567' (what the company's CRM keys callers by)."""
    user = uri.split(":", 1)[-1].split("@", 1)[0] if "@" in uri else ""
    return user or None


def build_app(state: dict):
    from fastapi import FastAPI

    app = FastAPI(title="ivr", version="0.1.0")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "calls_active": len(state["calls"]), "calls_total": state["total"], "sip": state["sip"]}

    return app


async def _serve(args) -> int:
    import uvicorn

    from ivr.engine import get_engine
    from ivr.live_call import run_call

    sip_host, sip_port = parse_hostport(args.sip, 5070)
    http_host, http_port = parse_hostport(args.http, 8080)
    engine = get_engine(db=args.db, policy_path=args.policy, with_nlu=args.bot == "triage")
    state: dict = {"calls": set(), "total": 0, "sip": None}

    async def on_call(call) -> None:
        state["calls"].add(call.call_id)
        state["total"] += 1

        def on_event(ev: dict) -> None:
            log.info("call %s %s", call.call_id, json.dumps(ev))

        try:
            caller = _caller_number(call.remote_uri)
            await run_call(call, engine, engine.responder(args.bot, caller_id=caller), on_event)
        except Exception:
            log.exception("call %s failed", call.call_id)
        finally:
            state["calls"].discard(call.call_id)

    endpoint = None
    try:
        from telephony import SipEndpoint
    except ImportError:
        SipEndpoint = None
        log.warning("telephony is not available: serving HTTP only")
    if SipEndpoint is not None:
        endpoint = SipEndpoint(sip_host, sip_port, on_call, allow=args.allow)
        await endpoint.start()
        state["sip"] = f"{sip_host}:{sip_port}"
    server = uvicorn.Server(uvicorn.Config(build_app(state), host=http_host, port=http_port, log_level="warning"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server_task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers a flag, not an event: say "ready" only once bound
        if server_task.done():
            await server_task
            print("ivr serve: the HTTP server did not start (address in use?)", file=sys.stderr)
            return 1
        await asyncio.sleep(0.02)
    log.info("ready: SIP %s, HTTP http://%s:%d/healthz", state["sip"], http_host, http_port)
    print(f"ivr: ready (SIP {state['sip']}, HTTP http://{http_host}:{http_port})", file=sys.stderr, flush=True)
    await asyncio.wait([server_task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    if endpoint is not None:
        await endpoint.stop()
    await server_task
    return 0


def serve(args) -> int:
    from ivr.engine import quiet_libraries

    quiet_libraries()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    try:
        parse_hostport(args.sip, 5070)
        parse_hostport(args.http, 8080)
        for net in args.allow or []:
            ipaddress.ip_network(net, strict=False)
    except ValueError as exc:
        print(f"ivr serve: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(args))
