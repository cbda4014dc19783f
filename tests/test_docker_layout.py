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


def _exported_metric_names() -> set[str]:
    """Every sample name /metrics can carry (a worker with every figure watched), plus Prometheus's `up`."""
    from prometheus_client.parser import text_string_to_metric_families

    from calls.events import StagesEvent
    from web.prometheus import CallMetrics

    m = CallMetrics()
    m.call_started("c")
    m.event("c", StagesEvent(turn=1, asr_ms=1.0))
    m.watch(queue_depth=lambda: 0, store_backlog=lambda: 0, media_totals=lambda: {}, agents_by_presence=lambda: {},
            presences=("available",))
    names = {s.name for fam in text_string_to_metric_families(m.render().decode()) for s in fam.samples}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    for fam in m.registry.collect():  # labelled families with no child yet carry no sample
        names |= {fam.name + suffix for suffix in suffixes.get(fam.type, ("",))}
    return names | {"up"}


_PROMQL_WORDS = {"sum", "by", "rate", "histogram_quantile", "max", "and", "le", "stage", "outcome", "reason", "result",
                 "presence", "instance", "job", "on", "without"}


def _metrics_in(expr: str) -> set[str]:
    expr = re.sub(r'\{[^}]*\}', "", re.sub(r"\[[^\]]*\]", "", expr))  # label matchers and ranges
    return {w for w in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", expr) if w not in _PROMQL_WORDS}


def test_dashboard_and_alert_rules_parse_and_name_only_metrics_that_exist():
    import json

    exported = _exported_metric_names()
    dashboard = json.loads((DOCKER / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DOCKER / "alert-rules.yml").read_text())["groups"][0]["rules"]
    assert len(exprs) >= 15 and len(rules) >= 8
    assert all({"alert", "expr", "labels", "annotations"} <= set(r) for r in rules)
    exprs += [r["expr"] for r in rules]
    for expr in exprs:
        unknown = _metrics_in(expr) - exported
        assert not unknown, f"{expr!r} names metrics /metrics does not export: {sorted(unknown)}"
    used = set().union(*map(_metrics_in, exprs))
    for wanted in ("ivr_stage_seconds_bucket", "ivr_rtp_frames_concealed_total", "ivr_queue_depth", "ivr_agents",
                   "ivr_store_backlog", "process_open_fds"):
        assert wanted in used
    prom = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    assert prom["rule_files"] == ["alert-rules.yml"]


def test_the_image_installs_dependencies_before_it_copies_the_code():
    lines = (DOCKER / "Dockerfile").read_text().splitlines()
    first_code = next(i for i, line in enumerate(lines) if re.match(r"COPY (calls|telephony|ivr) ", line))
    deps = next(i for i, line in enumerate(lines) if "pip install --no-cache-dir -r /tmp/requirements.txt" in line)
    assert deps < first_code  # a code change keeps the dependency layer cached
    assert any("pip install --no-cache-dir --no-deps ." in line for line in lines[first_code:])


def test_each_worker_publishes_its_own_rtp_port_range():
    from telephony.endpoint_config import port_range

    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    ranges = []
    for name in ("w1", "w2", "w3"):
        cmd = services[name]["command"]
        rtp = cmd[cmd.index("--rtp-ports") + 1]
        assert f"{rtp}:{rtp}/udp" in services[name]["ports"]
        ranges.append(port_range(rtp))
    ranges.sort()
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:]))  # disjoint: one host publishes all three
    grace = services["w1"].get("stop_grace_period", "10s")
    assert int(grace.rstrip("s")) > float(services["w1"]["environment"]["IVR_DRAIN_DEADLINE"])
