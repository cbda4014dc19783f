"""Helpers for the end-to-end tests: test tones, the service's event log, loopback user agents; ports and
`ivr serve` as a process come from ivr.tools.harness."""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np

from ivr.tools.harness import IVR_CMD, Service, free_port, running_service
from telephony import Call, EndpointConfig, MediaConfig, SipEndpoint, TimingConfig, Timers

__all__ = ["FAST", "IVR_CMD", "Box", "Service", "call_events", "loopback_boxes", "free_port", "running_service", "tone", "tone_seconds", "transfer_in",
           "wait_for_call"]


def tone(hz: float, seconds: float, amp: float = 8000, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def tone_seconds(pcm: np.ndarray, hz: float, rate: int = 8000, window_s: float = 0.2) -> float:
    """Seconds of audible audio that is the tone `hz` (±30 Hz holds most of the window's energy).

    Dominance rather than the loudest bin alone: voiced speech often peaks near 440 Hz too."""
    n = int(rate * window_s)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    band = np.abs(freqs - hz) < 30
    found = 0
    for i in range(0, max(0, len(pcm) - n), n):
        seg = pcm[i : i + n].astype(float)
        if np.sqrt(np.mean(seg**2)) < 500:
            continue
        power = np.abs(np.fft.rfft(seg * np.hanning(n))) ** 2
        if power[band].sum() >= 0.6 * power.sum():
            found += 1
    return found * window_s


def call_events(svc, call_id) -> list[dict]:
    return svc.api(f"/api/calls/{call_id}/events")["events"]


def wait_for_call(svc, pred, what: str, timeout: float = 60.0) -> str:
    """Follow the service's own event log (the store) until `pred(events)` holds for the newest
    call; its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = svc.api("/api/calls?limit=1")["calls"]
        if calls and pred(call_events(svc, calls[0]["id"])):
            return calls[0]["id"]
        time.sleep(0.2)
    calls = svc.api("/api/calls?limit=1")["calls"]
    raise AssertionError(f"the call never had {what}: {call_events(svc, calls[0]['id']) if calls else 'no call'}")


def transfer_in(state: str):
    """A predicate for `wait_for_call`: the call's transfer reached `state` ("bridged", ...)."""
    return lambda evs: any(e.get("event") == "transfer" and e.get("state") == state for e in evs)


FAST = Timers(t1=0.01, t2=0.04, t4=0.05, d=0.2)  # SIP timers for loopback, where nothing is lost


class Box:
    """A loopback endpoint whose handler records its calls and keeps them up until they end."""

    def __init__(self, name: str, rtp_ports, **kw) -> None:
        self.calls: list[Call] = []
        self.new: asyncio.Queue[Call] = asyncio.Queue()

        async def on_call(call: Call) -> None:
            self.calls.append(call)
            self.new.put_nowait(call)
            await call.ended.wait()

        config = EndpointConfig("127.0.0.1", 0, user=name, media=MediaConfig(rtp_ports=rtp_ports),
                                timing=TimingConfig(FAST, answer_delay=0.0))
        self.ep = SipEndpoint(config, on_call, **kw)

    @property
    def uri(self) -> str:
        return f"sip:{self.ep.config.user}@127.0.0.1:{self.ep.port}"


@contextlib.asynccontextmanager
async def loopback_boxes(base_port: int):
    """`make(name, **kw)` starts a Box with its own 999-port RTP range from `base_port` up; all are
    stopped on leaving (a test file's fixture wraps it with a base of its own)."""
    made: list[Box] = []

    async def make(name, **kw):
        box = Box(name, (base_port + 1000 * len(made), base_port + 998 + 1000 * len(made)), **kw)
        await box.ep.start()
        made.append(box)
        return box

    try:
        yield make
    finally:
        for box in made:
            await box.ep.stop()
