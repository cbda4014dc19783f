"""What machine a figure was measured on, and how busy it was: every bench JSON carries it."""

from __future__ import annotations

import os
import platform


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_gib() -> float:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe() -> str:
    """One line: cores, CPU, memory, Python, and the load average (1, 5, 15 min) right now."""
    from voice.models import cores

    l1, l5, l15 = load()
    return (f"{cores()} cores ({_cpu_model()}), {_mem_gib():.0f} GiB, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}; load avg {l1} {l5} {l15}")
