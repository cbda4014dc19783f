"""`ivr serve` as a child process on free loopback ports: for `ivr bench` and the end-to-end tests."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field

IVR_CMD = [sys.executable, "-m", "ivr.cli"]


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    proc: subprocess.Popen
    sip: int
    http: int
    secret: str = ""
    admin_token: str = ""
    log: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    spawned_at: float = 0.0  # time.monotonic() just before the process was started...
    ready_at: float = 0.0  # ...and when it said "ivr: ready"

    def api(self, path: str, *, method: str = "GET", body: object = None) -> dict:
        """The JSON API as an admin script calls it (Authorization: Bearer $IVR_ADMIN_TOKEN)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.http}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.admin_token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())


@contextmanager
def running_service(var, *args: str, start_timeout: float = 120.0, env: dict[str, str] | None = None,
                    cwd: str | None = None):
    """`ivr serve` on free loopback ports with its store and company data under `var`; stopped by PID.

    `env` adds to the environment (e.g. IVR_CACHE_DIR); `cwd` runs another checkout's `ivr`
    (`ivr bench startup --compare`)."""
    from web.desktop import agent_token

    sip, http = free_port(), free_port(socket.SOCK_STREAM)
    secret, admin_token = os.urandom(16).hex(), os.urandom(16).hex()
    extra = dict(env or {})
    if cwd is not None:
        extra["PYTHONPATH"] = str(cwd)
    spawned_at = time.monotonic()
    proc = subprocess.Popen(
        [*IVR_CMD, "serve", "--sip", f"127.0.0.1:{sip}", "--http", f"127.0.0.1:{http}",
         "--db", f"sqlite:///{var}/ivr.db", "--company-db", str(var / "company.db"), *args],
        stderr=subprocess.PIPE, text=True, cwd=cwd,
        env={**os.environ, **extra, "IVR_SECRET": secret, "IVR_ADMIN_TOKEN": admin_token},
    )
    service = Service(proc, sip, http, secret=secret, admin_token=admin_token, spawned_at=spawned_at)
    try:
        deadline = time.monotonic() + start_timeout
        for line in proc.stderr:
            m = re.search(r"ivr: agent (\S+):", line)
            if m:
                assert service.secret not in line and "token=" not in line  # credentials never logged
                assert admin_token not in line
                service.tokens[m.group(1)] = agent_token(secret, m.group(1))
            service.log.append(line)
            if "ivr: ready" in line:
                service.ready_at = time.monotonic()
                break
            assert time.monotonic() < deadline and proc.poll() is None, "ivr serve did not start"
        # Keep draining the log so the server never blocks on a full pipe.
        threading.Thread(target=lambda: service.log.extend(proc.stderr), daemon=True).start()
        yield service
    finally:
        proc.send_signal(signal.SIGTERM)  # drains: a call still up gets up to 5 s, then a second
        try:                              # SIGTERM hangs it up at once (as one SIGTERM used to)
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
