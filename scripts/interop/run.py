"""`make interop`: the bot against a real Asterisk (Debian sid, in a chroot; scripts/interop/asterisk.sh).

    Asterisk ──INVITE──► bot (our SipEndpoint, 127.0.0.1:5070)
    bot ──INVITE sip:support@asterisk, User-to-User + Call-Info──► Asterisk queue "support"
    queue ──► agent1 (sipp, 486 busy) ──► agent2 (sipp, answers; must receive the UUI)
    agent2 answers ──► the queue's gosub CURLs POST /api/pbx/answered (bearer token, the UUI)
    ──► the bot's web app pops agent2's screen (a desktop connection here receives it)

Every check is printed as PASS/FAIL with what crossed the wire; the figures go to
var/interop/result.json. Exit status 0 only if every check passed. Asterisk must be started first
(the Makefile's `interop` target does both, and stops it after).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from routing.agents import AgentDirectory  # noqa: E402
from routing.pbx_handoff import PbxHandoffConfig, decode_uui, uui_fields  # noqa: E402
from routing.screenpop import ScreenPopHub  # noqa: E402
from routing.transfer import TransferConfig, WarmTransfer  # noqa: E402
from telephony import EndpointConfig, SipEndpoint  # noqa: E402
from web.app import create_app  # noqa: E402
from web.dependencies import DesktopDeps, WebDeps  # noqa: E402

ASTERISK = HERE / "asterisk.sh"
OUT = REPO / "var" / "interop"
SUMMARY = {"intent": "card_stolen", "paragraph": "Caller reports a stolen card 4111 1111 1111 1111, wants it blocked.",
           "caller_name": "Dana", "escalation_reason": "frustration"}


def rx(cmd: str) -> str:
    return subprocess.run([str(ASTERISK), "rx", cmd], capture_output=True, text=True, timeout=20).stdout


def sipp_agent(scenario: str, port: int, workdir: Path) -> subprocess.Popen:
    shutil.rmtree(workdir, ignore_errors=True)  # a previous run's logs must not pass for this one's
    workdir.mkdir(parents=True)
    return subprocess.Popen(["sipp", "-sf", str(HERE / "sipp" / scenario), "-i", "127.0.0.1", "-p", str(port),
                             "-mp", str(port + 1000), "-m", "1", "-timeout", "60s", "-timeout_error", "-nostdin", "-nd",
                             "-trace_logs", "-trace_err"], cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def logged(workdir: Path, key: str) -> str | None:
    for f in workdir.glob("*_logs.log"):
        m = re.search(rf"^{key} (\S+)", f.read_text(errors="replace"), re.M)
        if m:
            return m.group(1)
    return None


async def main() -> int:
    import uvicorn

    token = os.environ.get("IVR_PBX_TOKEN") or "interop-token"
    os.environ["IVR_PBX_TOKEN"] = token
    OUT.mkdir(parents=True, exist_ok=True)
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append((name, bool(ok), detail))
        print(f"{'PASS' if ok else 'FAIL'}  {name}  {detail}", flush=True)

    hub = ScreenPopHub()
    web = uvicorn.Server(uvicorn.Config(create_app(WebDeps(desktop=DesktopDeps(hub, AgentDirectory([]), lambda a: None))),
                                        host="127.0.0.1", port=8090, log_level="warning"))
    web_task = asyncio.create_task(web.serve())
    desks = {a: hub.connect(a) for a in ("agent1", "agent2")}
    events: list = []
    results: dict = {}
    answered = asyncio.Event()
    pbx = PbxHandoffConfig(queue_uri="sip:support@127.0.0.1:5160", public_url="http://127.0.0.1:8090", ring_timeout_s=30)

    async def silence(_text: str) -> np.ndarray:
        return np.zeros(800, np.int16)

    async def on_call(call) -> None:
        results["bot_call_id"] = call.call_id
        answered.set()
        wt = WarmTransfer(call, results.setdefault("call_id", "interop-" + str(int(time.time()))), SUMMARY, "frustration",
                          invite=endpoint.invite, agents=None, desktop=hub, speak=silence, on_event=events.append,
                          config=TransferConfig(pbx=pbx))
        results["transfer"] = asyncio.create_task(wt.run())
        await results["transfer"]

    endpoint = SipEndpoint(EndpointConfig(host="127.0.0.1", port=5070), on_call)
    await endpoint.start()
    agents = {"agent1": (sipp_agent("agent_busy.xml", 5201, OUT / "agent1"), OUT / "agent1"),
              "agent2": (sipp_agent("agent_answer.xml", 5202, OUT / "agent2"), OUT / "agent2")}
    t0 = time.monotonic()
    try:
        print(rx("channel originate PJSIP/bot extension s@caller").strip())
        await asyncio.wait_for(answered.wait(), 15)
        check("Asterisk's call reaches the bot and is answered", True, f"{time.monotonic() - t0:.2f} s")
        pop = await asyncio.wait_for(desks["agent2"].get(), 40)
        took = time.monotonic() - t0
        check("the webhook (Asterisk CURL, bearer token) pops agent2's screen", pop and pop.get("call_id") == results["call_id"],
              f"{took:.2f} s after the originate; via={pop.get('summary', {}).get('via')}")
        check("the pop's card number is redacted", "4111 1111" not in json.dumps(pop), pop.get("summary", {}).get("paragraph", ""))
        check("no pop for the busy agent1", desks["agent1"].queue.empty())
        log = subprocess.run([str(ASTERISK), "log"], capture_output=True, text=True).stdout
        uui = (re.findall(r"INTEROP uui=(\S+)", log) or [""])[-1]
        cinfo = (re.findall(r"INTEROP call-info=(\S+)", log) or [""])[-1]
        data, params = decode_uui(uui) if uui else (b"", {})
        check("Asterisk read RFC 7433 User-to-User (PJSIP_HEADER)", uui_fields(data).get("cid") == results["call_id"]
              and params.get("encoding") == "hex", uui)
        url = re.match(r"<([^>]+)>;purpose=info", cinfo)
        check("Asterisk read Call-Info purpose=info", url is not None, cinfo)
        if url:
            body = await asyncio.to_thread(fetch_json, url.group(1))  # the web app runs on this loop
            check("the Call-Info URL serves the pop", body.get("call_id") == results["call_id"], url.group(1))
        rx("channel request hangup all")
        await asyncio.wait_for(results["transfer"], 15)
        for name, (proc, wd) in agents.items():
            rc = await asyncio.to_thread(proc.wait, 20)
            check(f"{name} (sipp) got the UUI from Asterisk and its scenario passed",
                  rc == 0 and logged(wd, "UUI") == uui.split(";")[0], f"rc={rc} uui={logged(wd, 'UUI')}")
        states = [getattr(e, "state", None) for e in events]
        check("the transfer went ringing → bridged → done", ["ringing", "bridged", "done"] == [s for s in states if s in
              ("ringing", "bridged", "done")], str([s for s in states if s]))
    except asyncio.TimeoutError as exc:
        check("timed out waiting", False, repr(exc))
    finally:
        for proc, _ in agents.values():
            if proc.poll() is None:
                proc.kill()
        await endpoint.stop()
        web.should_exit = True
        await web_task
    (OUT / "result.json").write_text(json.dumps({"checks": [{"name": n, "ok": o, "detail": d} for n, o, d in checks]},
                                                indent=2))
    print(f"{sum(o for _, o, _ in checks)}/{len(checks)} checks passed; var/interop/result.json")
    return 0 if checks and all(o for _, o, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
