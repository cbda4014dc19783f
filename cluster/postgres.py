"""A throwaway PostgreSQL cluster on a loopback port (Debian's server binaries; as `nobody` when
run as root, since PostgreSQL refuses to run as root). fsync is off: it is for tests and demos."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


def find_pg_bindir() -> Path | None:
    env = os.environ.get("IVR_PG_BIN")
    if env and (Path(env) / "initdb").exists():
        return Path(env)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for d in reversed(dirs):
        if (Path(d) / "initdb").exists():
            return Path(d)
    return None


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    bindir: Path
    root: Path
    port: int
    prefix: list[str] = field(default_factory=list)
    running: bool = False

    @classmethod
    def create(cls, root: Path | None = None, port: int | None = None) -> "Postgres":
        """initdb in `root` (a new temporary folder by default); not started yet."""
        bindir = find_pg_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
        root = Path(root or tempfile.mkdtemp(prefix="ivr-pg-"))
        root.mkdir(parents=True, exist_ok=True)
        prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(root, "nobody")
            prefix = ["runuser", "-u", "nobody", "--"]
        pg = cls(bindir, root, port or free_tcp_port(), prefix)
        pg._run("initdb", "-D", str(pg.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
        return pg

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        try:
            return subprocess.run([*self.prefix, str(self.bindir / tool), *args], check=check, capture_output=True,
                                  env=env, cwd=self.root, timeout=60)
        except subprocess.CalledProcessError as exc:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {exc.stderr.decode()} {log[-2000:]}") from None

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
                "-c synchronous_commit=off -c max_connections=100")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "30", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """fast: disconnect clients and shut down cleanly; immediate: like a crash."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop", check=False)
            self.running = False

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def create_database(self, name: str) -> str:
        if not name.isidentifier():
            raise ValueError(f"database name {name!r}")
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
