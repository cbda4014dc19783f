"""A deploy drops nobody: SIGTERM to `ivr serve` with a call in progress (sipp, over real SIP and
RTP on loopback). The call goes on to its own BYE; meanwhile a new INVITE and an OPTIONS probe get
503 (a proxy in front routes elsewhere), /readyz is 503 and /healthz still 200; once the call has
ended the process exits 0 on its own, long before the drain deadline. It runs with
`--log-format json`: each log record on stderr is one JSON object."""

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port, running_service
from tests.telephony.test_endpoint_sipp import _request_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed")]

SCENARIOS = Path(__file__).parents[1] / "telephony" / "sipp"


def sipp(sip_port: int, scenario: Path, workdir: Path, timeout: int = 30) -> subprocess.Popen:
    workdir.mkdir()
    return subprocess.Popen(
        ["sipp", f"127.0.0.1:{sip_port}", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_port()),
         "-mp", str(free_port() & ~1), "-m", "1", "-timeout", f"{timeout}s", "-timeout_error", "-nostdin", "-nd",
         "-trace_err", "-sf", str(scenario)],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(proc: subprocess.Popen, workdir: Path, timeout: float = 40) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out + "".join(f.read_text(errors="replace") for f in workdir.glob("*errors.log"))


def get(http: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_until(cond, timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def test_sigterm_drains_the_call_in_progress_finishes_and_new_calls_get_503(tmp_path):
    with running_service(tmp_path / "var", "--bot", "echo", "--drain-deadline", "60", "--log-format", "json") as svc:
        assert get(svc.http, "/readyz") == (200, {"status": "ready", "reasons": []})
        call = sipp(svc.sip, SCENARIOS / "long_call.xml", tmp_path / "call")  # 8 s, then the caller's BYE
        assert wait_until(lambda: get(svc.http, "/healthz")[1]["calls_active"] == 1)
        svc.proc.send_signal(signal.SIGTERM)
        assert wait_until(lambda: any("ivr: draining" in line for line in svc.log))
        status, body = get(svc.http, "/readyz")
        assert status == 503 and body["reasons"] == ["draining"]
        status, body = get(svc.http, "/healthz")
        assert status == 200 and body["draining"] and body["calls_active"] == 1
        refused = sipp(svc.sip, SCENARIOS / "refused.xml", tmp_path / "new")
        assert finished(refused, tmp_path / "new")[0] == 0  # 503 with Retry-After
        (tmp_path / "opt").mkdir()
        (tmp_path / "opt" / "options.xml").write_text(_request_scenario("OPTIONS", "503"))
        probe = sipp(svc.sip, tmp_path / "opt" / "options.xml", tmp_path / "probe")
        assert finished(probe, tmp_path / "probe")[0] == 0
        assert svc.proc.poll() is None  # still serving the call in progress
        rc, out = finished(call, tmp_path / "call")
        assert rc == 0, out + "".join(svc.log[-30:])  # its BYE got 200: the call ended normally, not with our BYE
        started = time.monotonic()
        assert svc.proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 20  # it exits once the call is over, not at the deadline
        assert not any("hanging them up" in line for line in svc.log)
    # --log-format json: every log record is one JSON object (the "ivr: ..." lines are console
    # prints for whoever started it, not records), and the call's own records carry its id.
    records = [json.loads(line) for line in svc.log if line.strip() and not line.startswith("ivr")]
    assert records and all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r.get("call_id") and r["logger"] == "ivr" for r in records)
