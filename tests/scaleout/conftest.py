"""One scale-out cluster (PostgreSQL, Kamailio, 3 `ivr serve` workers on loopback, from the same
code as `make cluster`) shared by this folder's tests; a test that kills or restarts a part puts
it back. Callers and the agent's phone are the project's own UA in the test process."""

from __future__ import annotations

import asyncio
import shutil
import time

import numpy as np
import pytest

from cluster import Cluster
from cluster.postgres import find_pg_bindir
from ivr.tools.harness import free_port

AGENT_PORT = free_port()


@pytest.fixture(scope="session")
def cluster():
    if shutil.which("kamailio") is None or find_pg_bindir() is None:
        pytest.skip("kamailio or PostgreSQL not installed (make deps)")
    c = Cluster(workers=3,  # in its own temporary folder (readable by `nobody`), removed afterwards
                worker_args=["--agent", f"alice=sip:alice@127.0.0.1:{AGENT_PORT};skills=orders,billing",
                             "--ring-timeout", "8"],
                settings={"heartbeat_s": 0.5, "worker_stale_s": 3.0})
    c.start()
    try:
        yield c
    finally:
        c.stop()


def wait_until(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def await_until(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Recorder:
    """Everything a call hears, and an awaitable 'the bot spoke, then fell silent'."""

    def __init__(self, call):
        self.call = call
        self.frames: list[np.ndarray] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self):
        while (f := await self.call.read_frame()) is not None:
            self.frames.append(np.frombuffer(f, dtype=np.int16).copy())

    def loud_seconds(self) -> float:
        return sum(0.02 for f in self.frames if len(f) and np.sqrt(np.mean(f.astype(float) ** 2)) > 300)

    async def spoke_then_silent(self, speech_s: float = 1.0, silence_s: float = 0.8, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.loud_seconds() >= speech_s:
                tail = self.frames[-int(silence_s / 0.02):]
                if len(tail) >= int(silence_s / 0.02) and all(np.sqrt(np.mean(f.astype(float) ** 2)) <= 300 for f in tail):
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("the bot never finished speaking")
