"""PostgreSQL + Kamailio + N `ivr serve` workers on loopback, started and stopped as one."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .kamailio import Kamailio
from .postgres import Postgres, free_tcp_port


def free_udp_tcp_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP (a worker's SIP listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind((host, port))
                except OSError:
                    continue
            return port
    raise OSError("no free port")


@dataclass
class Worker:
    """One `ivr serve` process; its log is kept in memory (and mirrored to `var/worker.log`)."""

    name: str
    sip: int
    http: int
    var: Path
    args: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    log: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.ready.clear()
        cmd = [sys.executable, "-m", "ivr.cli", "serve", "--sip", f"127.0.0.1:{self.sip}",
               "--http", f"127.0.0.1:{self.http}", "--company-db", str(self.var / "company.db"),
               "--worker-id", self.name, *self.args]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=self.env,
                                     cwd=Path(__file__).resolve().parents[1])
        proc = self.proc
        mirror = open(self.var / "worker.log", "a")

        def drain() -> None:
            for line in proc.stderr:
                self.log.append(line)
                mirror.write(line)
                mirror.flush()
                if "ivr: ready" in line:
                    self.ready.set()
            mirror.close()

        threading.Thread(target=drain, daemon=True, name=f"drain-{self.name}").start()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited: {''.join(self.log[-20:])}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} not ready in {timeout:.0f} s: {''.join(self.log[-20:])}")

    def api(self, path: str, timeout: float = 5.0, *, method: str = "GET", body: object = None) -> dict:
        """The worker's JSON API as an admin script calls it (Bearer $IVR_ADMIN_TOKEN)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.http}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.env['IVR_ADMIN_TOKEN']}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-whatever, as on a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Cluster:
    """`with Cluster(workers=3) as c:` everything up (`c.sip` is the front door); all stopped after."""

    workers: int = 3
    root: Path | None = None
    sip_port: int | None = None  # Kamailio's port (default: a free one)
    worker_args: list[str] = field(default_factory=list)  # e.g. ["--agent", "alice=sip:..."]
    settings: dict = field(default_factory=dict)  # worker config file (heartbeat_s, worker_stale_s, ...)
    start_timeout: float = 180.0
    pg: Postgres | None = None
    kamailio: Kamailio | None = None
    nodes: list[Worker] = field(default_factory=list)
    db_url: str = ""
    db_password: str = ""
    _own_root: bool = False

    @property
    def sip(self) -> tuple[str, int]:
        assert self.kamailio is not None
        return self.kamailio.host, self.kamailio.port

    def start(self) -> "Cluster":
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="ivr-cluster-"))
            self._own_root = True
        os.chmod(self.root, 0o755)  # PostgreSQL and Kamailio run as nobody under it
        try:
            self.pg = Postgres.create(self.root / "pg")
            self.pg.start()
            self.db_url = self.pg.create_database("ivr")
            config = self.root / "worker.yaml"
            config.write_text(yaml.safe_dump({"bot": "triage", **self.settings}))
            # The database URL goes by environment, with a password in it (the throwaway cluster
            # trusts loopback and ignores it), so a test can check that it never reaches a log.
            self.db_password = "pw-" + os.urandom(8).hex()
            secret_url = self.db_url.replace("postgres@", f"postgres:{self.db_password}@", 1)
            env = {**os.environ, "IVR_SECRET": os.environ.get("IVR_SECRET") or os.urandom(16).hex(),
                   "IVR_DB_URL": secret_url, "IVR_ADMIN_TOKEN": os.environ.get("IVR_ADMIN_TOKEN") or os.urandom(16).hex()}
            for i in range(self.workers):
                var = self.root / f"w{i + 1}"
                var.mkdir(parents=True, exist_ok=True)
                w = Worker(f"w{i + 1}", free_udp_tcp_port(), free_tcp_port(), var,
                           ["--config", str(config), "--rate-exempt", "127.0.0.1/32",
                            *self.worker_args], env)
                self.nodes.append(w)
            # Workers first: Kamailio marks a worker that fails its first probes as down.
            for w in self.nodes:
                w.start()
            for w in self.nodes:
                w.wait_ready(self.start_timeout)
            self.kamailio = Kamailio("127.0.0.1", self.sip_port or free_udp_tcp_port(), self.root / "kamailio",
                                     [("127.0.0.1", w.sip) for w in self.nodes])
            self.kamailio.start()
            return self
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.kamailio is not None:
            self.kamailio.stop()
        for w in self.nodes:
            w.stop()
        if self.pg is not None:
            self.pg.stop("fast")
        if self._own_root and self.root is not None and not os.environ.get("IVR_CLUSTER_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)  # IVR_CLUSTER_KEEP=1 keeps the logs

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def restart_worker(self, i: int, timeout: float | None = None) -> None:
        w = self.nodes[i]
        w.stop()
        w.start()
        w.wait_ready(timeout or self.start_timeout)

    def describe(self) -> dict:
        return {"sip": f"{self.sip[0]}:{self.sip[1]}", "database": self.db_url,
                "workers": [{"name": w.name, "sip": f"127.0.0.1:{w.sip}", "http": f"http://127.0.0.1:{w.http}",
                             "pid": w.proc.pid if w.proc else None} for w in self.nodes],
                "kamailio_log": str(self.kamailio.rundir / "kamailio.log") if self.kamailio else None,
                "root": str(self.root)}
