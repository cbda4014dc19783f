"""docker/ as far as this machine can check it without a Docker engine: the compose file parses
and wires Kamailio, three workers and PostgreSQL together consistently, secrets come from the
environment, and the Kamailio config passes `kamailio -c` with the compose worker list."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def test_compose_wires_front_door_workers_and_database():
    doc = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = doc["services"]
    assert {"postgres", "kamailio", "w1", "w2", "w3"} <= set(services)
    front_ip = services["kamailio"]["networks"]["ivr"]["ipv4_address"]
    listed = re.findall(r"^1 sip:([\d.]+):(\d+)", (DOCKER / "kamailio" / "dispatcher.list").read_text(), re.M)
    workers = []
    for name in ("w1", "w2", "w3"):
        w = services[name]
        cmd = w["command"]
        ip = w["networks"]["ivr"]["ipv4_address"]
        assert cmd[cmd.index("--sip") + 1] == f"{ip}:5070" and cmd[cmd.index("--worker-id") + 1] == name
        assert cmd[cmd.index("--rate-exempt") + 1] == f"{front_ip}/32"  # Kamailio limits per source itself
        env = w["environment"]
        assert env["IVR_DB_URL"].startswith("postgresql://ivr:${POSTGRES_PASSWORD:?")  # no secret in the file
        assert env["IVR_SECRET"].startswith("${") and env["IVR_ADMIN_TOKEN"].startswith("${")
        assert not any("password" in str(c).lower() or "token" in str(c).lower() for c in cmd)
        workers.append((ip, "5070"))
    assert sorted(listed) == sorted(workers)
    assert services["kamailio"]["command"] == ["-A", f"LISTEN=udp:{front_ip}:5060"]


@pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio not installed (make deps)")
def test_kamailio_config_passes_its_own_check(tmp_path):
    out = subprocess.run(["kamailio", "-c", "-f", str(DOCKER / "kamailio" / "kamailio.cfg"),
                          "-A", f'DISPATCHER_LIST="{DOCKER / "kamailio" / "dispatcher.list"}"',
                          "-A", "LISTEN=udp:127.0.0.1:5060"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "config file ok" in (out.stdout + out.stderr).lower()


def test_the_image_copies_every_package_the_project_installs():
    """A package left out of the image (as `calls/` once was) only fails when the container starts."""
    text = (DOCKER.parent / "pyproject.toml").read_text()
    include = re.search(r"^include = \[(.*)\]$", text, re.M).group(1)
    packages = {p.strip().strip('"').rstrip("*") for p in include.split(",")}
    copied = set(re.findall(r"^COPY (\w+) \1$", (DOCKER / "Dockerfile").read_text(), re.M))
    assert packages and packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    on_disk = {p.parent.name for p in DOCKER.parent.glob("*/__init__.py")} - {"tests", "cluster", "scripts"}
    assert on_disk <= packages, f"packages not installed: {sorted(on_disk - packages)}"


def test_every_file_a_package_reads_at_run_time_is_installed_with_it():
    """A non-editable install (the image's `pip install .`) ships only what package-data names:
    the panel's templates, the Alembic scripts, the models' data."""
    import fnmatch
    import tomllib

    root = DOCKER.parent
    doc = tomllib.loads((root / "pyproject.toml").read_text())
    globs = doc["tool"]["setuptools"]["package-data"]["*"]
    include = [p.rstrip("*") for p in doc["tool"]["setuptools"]["packages"]["find"]["include"]]
    missing = []
    for top in include:
        for f in (root / top).rglob("*"):
            if not f.is_file() or "__pycache__" in f.parts:
                continue
            pkg = f.parent
            while not (pkg / "__init__.py").is_file():
                pkg = pkg.parent  # the nearest package the file belongs to
            rel = f.relative_to(pkg).as_posix()
            if f.suffix == ".py" and pkg == f.parent:
                continue  # a module of the package itself
            if not any(fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs):
                missing.append(str(f.relative_to(root)))
    assert not missing, f"not installed by a wheel: {missing}"
