"""SIPVicious against a real `ivr serve` on loopback, as an attacker runs it (issue 19).

One agent, alice, whose phone password is four digits, stored as HA1 with `ivr users
sip-password`. `svwar` scans ten names (alice and nine made up) over REGISTER, INVITE and
OPTIONS and must tell none apart; `svcrack` first shows it can crack this registrar (a short
range holding the password: found), then runs over 0000-9999 again and again for about a minute
against the guard and must not find it; then the service still answers a call (sipp).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time

import pytest

from tests.support import IVR_CMD, free_port, running_service

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("svwar") is None, reason="sipvicious is installed by `make`")]

PASSWORD = "7391"  # four digits: svcrack would reach it after 7,392 guesses
NAMES = ["alice", "bob7", "carla", "dmitri", "eve", "frank", "gita", "hugo", "ines", "jonas"]  # alice is real


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    setpw = subprocess.run([*IVR_CMD, "users", "sip-password", "alice", "--password-stdin", "--db", f"sqlite:///{var}/ivr.db"],
                           input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert setpw.returncode == 0, setpw.stderr
    with running_service(var, "--agent", "alice=;skills=billing") as svc:
        svc.var = var
        yield svc


def sipvicious(tool: str, server, *args: str, timeout: float = 60) -> str:
    """One run of a SIPVicious tool from its own port and home (its session files); stdout + stderr."""
    home = server.var / f"home-{tool}-{time.monotonic_ns()}"
    home.mkdir()
    proc = subprocess.run([tool, "127.0.0.1", "-p", str(server.sip), "-P", str(free_port()), *args],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, "HOME": str(home)})
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS"])
def test_svwar_tells_no_name_apart(server, method, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("\n".join(NAMES) + "\n")
    out = sipvicious("svwar", server, "-m", method, "-d", str(names), "--force", "--maximumtime", "5", timeout=90)
    assert "Ok SIP device found" in out, out[-3000:]  # it reached the service and learnt the "bad user" answer
    found = re.findall(r"extension '([^']+)' (?:exists|probably exists)", out)
    assert found == [], out[-3000:]
    assert not re.search(r"\|\s*alice\s*\|", out), out[-3000:]


def test_svcrack_cracks_an_unguarded_short_range(server):
    """The control: svcrack works against this registrar, so the next test's 'not found' means something."""
    out = sipvicious("svcrack", server, "-u", "alice", "-r", "7389-7391", "-z", "4", "--maximumtime", "5")
    assert f"The password for alice is {PASSWORD}" in out, out[-3000:]


def test_svcrack_finds_no_four_digit_password(server):
    deadline, runs, outputs = time.monotonic() + 70, 0, []
    while time.monotonic() < deadline:  # the attacker starts it again each time it gives up
        outputs.append(sipvicious("svcrack", server, "-u", "alice", "-r", "0000-9999", "-z", "4", "--maximumtime", "5",
                                  timeout=max(5.0, deadline - time.monotonic() + 15)))
        runs += 1
    out = "\n".join(outputs)
    assert runs >= 2 and "The password for" not in out and PASSWORD not in out, out[-3000:]
    checked = sum("REGISTER: wrong credentials" in line for line in server.log)
    assert checked <= 12, f"{checked} guesses were checked"  # 2 in the control, then 5 per block at most
    with sqlite3.connect(server.var / "ivr.db") as db:
        until, strikes = db.execute("SELECT blocked_until, strikes FROM auth_failures WHERE scope='sip' AND "
                                    "kind='source' AND subject='127.0.0.1'").fetchone()
        flagged = db.execute("SELECT flagged_at FROM auth_failures WHERE scope='sip' AND kind='user' AND "
                             "subject='alice'").fetchone()
    assert until > time.time() and strikes >= 1  # the source is refused, in the store every worker reads
    view = server.api("/api/security")  # what the panel shows
    assert {"scope": "sip", "source": "127.0.0.1"}.items() <= view["blocked_sources"][0].items()
    assert view["agents"] == [{"id": "alice", "auth_flagged": flagged is not None and flagged[0] is not None,
                               "flagged_at": flagged[0] if flagged else None}]


def test_the_service_still_answers_a_call(server, tmp_path):
    sipp = subprocess.run(["sipp", f"127.0.0.1:{server.sip}", "-sn", "uac", "-i", "127.0.0.1", "-p", str(free_port()),
                           "-m", "1", "-d", "1000", "-timeout", "60s", "-timeout_error", "-nostdin"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert sipp.returncode == 0, sipp.stdout[-2000:] + sipp.stderr[-2000:]
