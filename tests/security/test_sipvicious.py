"""SIPVicious against a real `ivr serve` on loopback, as an attacker runs it (issue 19).

One agent, alice, whose phone password is four digits, stored as HA1 with `ivr users
sip-password`. `svwar` scans ten names (alice and nine made up) over REGISTER, INVITE and
OPTIONS and must tell none apart; `svcrack` first shows it can crack this registrar (a short
range holding the password: found), then runs over 0000-9999 again and again until past the
guard's first block (shortened here) and must not find it; then the service still answers a call (sipp).
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

BLOCK_S = 15  # the guard's first block here (IVR_SIP_BLOCK_S; 60 s by default): a minute less waiting
PASSWORD = "7391"  # four digits: svcrack would reach it after 7,392 guesses
NAMES = ["alice", "bob7", "carla", "dmitri", "eve", "frank", "gita", "hugo", "ines", "jonas"]  # alice is real


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    setpw = subprocess.run([*IVR_CMD, "users", "sip-password", "alice", "--password-stdin", "--db", f"sqlite:///{var}/ivr.db"],
                           input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert setpw.returncode == 0, setpw.stderr
    with running_service(var, "--agent", "alice=;skills=billing", env={"IVR_SIP_BLOCK_S": str(BLOCK_S)}) as svc:
        svc.var = var
        yield svc


def sipvicious(tool: str, server, *args: str, timeout: float = 60) -> str:
    """One run of a SIPVicious tool from its own port and home (its session files); stdout + stderr."""
    home = server.var / f"home-{tool}-{time.monotonic_ns()}"
    home.mkdir()
    proc = subprocess.Popen([tool, "127.0.0.1", "-p", str(server.sip), "-P", str(free_port()), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "HOME": str(home)})
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:  # the attacker's time is up (a 403 keeps svcrack going for ever)
        proc.kill()
        return proc.communicate()[0]


@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS"])
def test_svwar_tells_no_name_apart(server, method, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("\n".join(NAMES) + "\n")
    out = sipvicious("svwar", server, "-m", method, "-d", str(names), "--force", "--maximumtime", "5", timeout=90)
    # svwar learns the answer to a random name first, then probes alice first: a different answer
    # for her ("exists", "probably exists") is what enumeration is; the same answer ends its scan.
    assert "SIP/2.0" in out or "Bad user" in out or "found nothing" in out, out[-3000:]  # it was answered
    found = re.findall(r"extension '([^']+)' (?:exists|probably exists)", out)
    assert found == [] and "found nothing" in out, out[-3000:]
    assert not re.search(r"\|\s*alice\s*\|", out), out[-3000:]


def test_svcrack_cracks_an_unguarded_short_range(server):
    """The control: svcrack works against this registrar, so the next test's 'not found' means something."""
    out = sipvicious("svcrack", server, "-u", "alice", "-r", "7389-7391", "-z", "4", "--maximumtime", "5")
    assert re.search(rf"\|\s*alice\s*\|\s*{PASSWORD}\s*\|", out), out[-3000:]  # its table of cracked passwords


def test_svcrack_finds_no_four_digit_password(server):
    deadline, runs, outputs = time.monotonic() + BLOCK_S + 15, 0, []  # past the first block
    while time.monotonic() < deadline:  # the attacker starts it again each time it gives up
        outputs.append(sipvicious("svcrack", server, "-u", "alice", "-r", "0000-9999", "-z", "4", "--maximumtime", "5",
                                  timeout=max(1.0, deadline - time.monotonic())))
        runs += 1
    out = "\n".join(outputs)
    assert runs >= 2 and PASSWORD not in out and not re.search(r"\|\s*alice\s*\|", out), out[-3000:]
    checked = sum("REGISTER: wrong credentials" in line for line in server.log)
    assert checked <= 12, f"{checked} guesses were checked"  # 2 in the control, then 5 per block at most
    with sqlite3.connect(server.var / "ivr.db") as db:
        until, strikes, last = db.execute("SELECT blocked_until, strikes, last_at FROM auth_failures WHERE "
                                          "scope='sip' AND kind='source' AND subject='127.0.0.1'").fetchone()
        flagged = db.execute("SELECT flagged_at FROM auth_failures WHERE scope='sip' AND kind='user' AND "
                             "subject='alice'").fetchone()
    # The source is refused, in the store every worker reads; the second block is twice the first.
    assert strikes == 2 and until == pytest.approx(last + 2 * BLOCK_S) and until > time.time()
    view = server.api("/api/security")  # what the panel shows
    assert {"scope": "sip", "source": "127.0.0.1"}.items() <= view["blocked_sources"][0].items()
    assert view["agents"] == [{"id": "alice", "auth_flagged": flagged is not None and flagged[0] is not None,
                               "flagged_at": flagged[0] if flagged else None}]


def test_the_service_still_answers_a_call(server, tmp_path):
    sipp = subprocess.run(["sipp", f"127.0.0.1:{server.sip}", "-sn", "uac", "-i", "127.0.0.1", "-p", str(free_port()),
                           "-m", "1", "-d", "1000", "-timeout", "60s", "-timeout_error", "-nostdin"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert sipp.returncode == 0, sipp.stdout[-2000:] + sipp.stderr[-2000:]
