"""Kamailio as the cluster's SIP front door: docker/kamailio/kamailio.cfg with this machine's
listen address and a generated dispatcher list, run unprivileged in the foreground."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "docker" / "kamailio" / "kamailio.cfg"


def dispatcher_list(workers: list[tuple[str, int]], set_id: int = 1) -> str:
    """dispatcher.list lines: `SETID sip:HOST:PORT FLAGS PRIORITY` (flags 0: probed by OPTIONS
    since ds_probing_mode=1)."""
    return "".join(f"{set_id} sip:{host}:{port} 0 0\n" for host, port in workers)


def options_ping(host: str, port: int, timeout: float = 1.0) -> int | None:
    """One OPTIONS to Kamailio itself; the status code of the answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        lport = s.getsockname()[1]
        tag, cid = uuid.uuid4().hex[:8], uuid.uuid4().hex
        msg = (f"OPTIONS sip:{host}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{cid[:12]};rport\r\n"
               f"Max-Forwards: 5\r\nFrom: <sip:probe@127.0.0.1>;tag={tag}\r\nTo: <sip:{host}:{port}>\r\n"
               f"Call-ID: {cid}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), (host, port))
        try:
            data, _ = s.recvfrom(65536)
        except OSError:
            return None
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


@dataclass
class Kamailio:
    host: str
    port: int
    rundir: Path
    workers: list[tuple[str, int]]
    extra_defines: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        defines = {"LISTEN": f"udp:{self.host}:{self.port}", "DISPATCHER_LIST": f'"{self.rundir / "dispatcher.list"}"',
                   **self.extra_defines}
        cmd = [shutil.which("kamailio") or "/usr/sbin/kamailio", "-f", str(CONFIG), "-DD", "-E", "-Y", str(self.rundir)]
        for k, v in defines.items():
            cmd += ["-A", f"{k}={v}"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        return cmd

    def start(self, timeout: float = 20.0) -> None:
        if shutil.which("kamailio") is None and not Path("/usr/sbin/kamailio").exists():
            raise FileNotFoundError("kamailio not found: apt-get install kamailio")
        self.rundir.mkdir(parents=True, exist_ok=True)
        (self.rundir / "dispatcher.list").write_text(dispatcher_list(self.workers))
        if os.geteuid() == 0:
            shutil.chown(self.rundir, "nobody")
        log = open(self.rundir / "kamailio.log", "ab")
        # Its own process group: stopping it stops its children (kamailio forks its workers).
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.rundir,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited ({self.proc.returncode}): {self.log_tail()}")
            if options_ping(self.host, self.port, 0.5) == 200:
                return
        self.stop()
        raise RuntimeError(f"kamailio did not answer OPTIONS within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        p = self.rundir / "kamailio.log"
        return p.read_text(errors="replace")[-n:] if p.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group we started (start_new_session)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
