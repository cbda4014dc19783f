"""`ivr bench transfer`: how fast a tripped policy reaches a person, measured on a running service.

Starts `ivr serve` with one agent (the project's own SIP UA, answering at once: the issue's
case, so what is measured is ours, not the agent's reaction), connects that agent's desktop
WebSocket, then places calls over SIP that press 0. From the service's stored event log (its
own clock, the same machine's), the desktop's receive times and the agent phone's answer:

  trip → agent INVITE     decision event → the transfer's "ringing" event (the INVITE goes out)
  INVITE → screen pop     "ringing" event → the pop arriving on the desktop (negative: before)
  agent answer → bridge   the agent's phone answering → the "bridged" event (the whisper between)
  trip → bridge           decision event → "bridged": how long the caller waits for a person
  caller's longest silence between the decision and the bridge, from the caller's own recording
  whisper_s               how long the whisper the agent heard lasted (from the agent's recording)
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from ivr.tools.machine import describe
from routing.hold_audio import longest_silence_s


# The targets, with an agent answering at once.
TARGETS_MS = {"answer_to_bridge_ms": 5000.0, "trip_to_bridge_ms": 8000.0}


def met(results: dict) -> dict[str, bool]:
    """Pure: each target's p95 within its limit (False when nothing was measured)."""
    out = {}
    for key, limit in TARGETS_MS.items():
        p95 = _pcts(results.get(key, []))["p95"]
        out[key] = p95 is not None and p95 <= limit
    return out


def whisper_seconds(pcm: np.ndarray, rate: int = 8000) -> float:
    """How long the agent heard the whisper: from the leg's first voiced 20 ms to the end of the
    first voiced stretch (the next 400 ms of silence, before the caller is put through)."""
    n = rate // 50
    frames = np.abs(pcm[: len(pcm) // n * n].astype(np.int32)).reshape(-1, n).max(axis=1) > 300
    on = np.flatnonzero(frames)
    if not len(on):
        return 0.0
    start, quiet, end = on[0], 0, on[0]
    for i in range(on[0], len(frames)):
        if frames[i]:
            end, quiet = i, 0
        else:
            quiet += 1
            if quiet >= 20:
                break
    return round((end + 1 - start) / 50, 2)


def _ts(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def _pcts(xs: list[float]) -> dict:
    if not xs:
        return {"p50": None, "p95": None, "n": 0}
    a = np.asarray(xs)
    return {"p50": round(float(np.percentile(a, 50)), 1), "p95": round(float(np.percentile(a, 95)), 1), "n": len(xs)}


async def greeting_over(heard: list[tuple[float, np.ndarray]], quiet_s: float = 0.8, limit_s: float = 20.0) -> None:
    """Until the caller has heard the bot speak and then `quiet_s` of silence (or `limit_s`)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        voiced = [t for t, f in heard if np.abs(f.astype(np.int32)).max(initial=0) > 300]
        if voiced and time.time() - voiced[-1] >= quiet_s:
            return
        await asyncio.sleep(0.1)


async def _one_call(svc, token: str, results: dict, answered: list[float]) -> None:
    import websockets

    from telephony import EndpointConfig, SipEndpoint

    http, sip, api = svc.http, svc.sip, svc.api

    pops: list[float] = []
    heard: list[tuple[float, np.ndarray]] = []
    caller_ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
    await caller_ep.start()
    try:
        async with websockets.connect(f"ws://127.0.0.1:{http}/ws/agent/alice?token={token}") as ws:
            async def desk():
                async for raw in ws:
                    if json.loads(raw).get("type") in ("screen_pop", "pop"):
                        pops.append(time.time())

            d = asyncio.create_task(desk())
            call = await caller_ep.invite(f"sip:support@127.0.0.1:{sip}", ring_timeout=10)

            async def rec():
                while (f := await call.read_frame()) is not None:
                    heard.append((time.time(), np.frombuffer(f, dtype=np.int16).copy()))

            r = asyncio.create_task(rec())
            await greeting_over(heard)  # the trip comes mid-call, not over the greeting
            call.send_dtmf("0")
            events: list[dict] = []
            call_id = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                calls = api("/api/calls?limit=1")["calls"]
                call_id = calls[0]["id"] if calls else None
                events = api(f"/api/calls/{call_id}/events")["events"] if call_id else []
                if any(e.get("event") == "transfer" and e.get("state") in ("bridged", "back_to_bot") for e in events):
                    break
                await asyncio.sleep(0.2)
            await call.hangup()
            await asyncio.wait_for(r, 10)
            d.cancel()
    finally:
        await caller_ep.stop()
    decision = next((e for e in events if e.get("event") == "decision"), None)
    ringing = next((e for e in events if e.get("event") == "transfer" and e.get("state") == "ringing"), None)
    bridged = next((e for e in events if e.get("event") == "transfer" and e.get("state") == "bridged"), None)
    if not (decision and ringing and bridged):
        results["failed"] += 1
        return
    t_dec, t_ring, t_bridge = _ts(decision["at"]), _ts(ringing["at"]), _ts(bridged["at"])
    results["trip_to_invite_ms"].append((t_ring - t_dec) * 1000)
    results["trip_to_bridge_ms"].append((t_bridge - t_dec) * 1000)
    answer = next((t for t in answered if t >= t_ring - 0.01), None)
    if answer is not None:
        results["answer_to_bridge_ms"].append((t_bridge - answer) * 1000)
    if pops:
        results["invite_to_pop_ms"].append((pops[0] - t_ring) * 1000)
    window = [f for t, f in heard if t_dec <= t <= t_bridge]
    if window:
        results["caller_longest_silence_ms"].append(longest_silence_s(np.concatenate(window)) * 1000)


def run(args) -> int:
    from ivr.tools.harness import free_port, running_service
    from telephony import EndpointConfig, SipEndpoint, TimingConfig

    agent_port = free_port()
    results: dict = {"trip_to_invite_ms": [], "invite_to_pop_ms": [], "answer_to_bridge_ms": [], "trip_to_bridge_ms": [],
                     "caller_longest_silence_ms": [], "whisper_s": [], "failed": 0}
    with running_service(Path(tempfile.mkdtemp(prefix="ivr-bench-")), "--agent", f"alice=sip:alice@127.0.0.1:{agent_port}") as svc:

        async def main():
            answered: list[float] = []

            async def agent_phone(call):  # answers at once, listens until the caller leaves
                answered.append(time.time())
                heard: list[np.ndarray] = []
                while (f := await call.read_frame()) is not None:
                    heard.append(np.frombuffer(f, dtype=np.int16))
                if heard:
                    results["whisper_s"].append(whisper_seconds(np.concatenate(heard)))

            agent = SipEndpoint(EndpointConfig("127.0.0.1", agent_port, timing=TimingConfig(answer_delay=0.0)), agent_phone)
            await agent.start()
            try:
                for _ in range(args.calls):
                    await _one_call(svc, svc.tokens["alice"], results, answered)
                    await asyncio.sleep(6.0)  # the agent's wrap-up (5 s) ends before the next call
            finally:
                await agent.stop()

        asyncio.run(main())
    report = {
        "calls": args.calls,
        "failed": results["failed"],
        "trip_to_invite_ms": _pcts(results["trip_to_invite_ms"]),
        "invite_to_pop_ms": _pcts(results["invite_to_pop_ms"]),
        "answer_to_bridge_ms": _pcts(results["answer_to_bridge_ms"]),
        "trip_to_bridge_ms": _pcts(results["trip_to_bridge_ms"]),
        "whisper_s": _pcts(results["whisper_s"]),
        "targets_ms": TARGETS_MS,
        "met": met(results),
        "caller_longest_silence_ms": _pcts(results["caller_longest_silence_ms"]),
        "machine": describe(),  # with the load average
    }
    print(json.dumps(report, indent=2))
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if results["failed"] == 0 else 1
