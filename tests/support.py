"""Helpers for the end-to-end tests: test tones; ports and `ivr serve` as a process come from ivr.harness."""

from __future__ import annotations

import numpy as np

from ivr.harness import IVR_CMD, Service, free_port, running_service

__all__ = ["IVR_CMD", "Service", "free_port", "running_service", "tone", "tone_seconds"]


def tone(hz: float, seconds: float, amp: float = 8000, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def tone_seconds(pcm: np.ndarray, hz: float, rate: int = 8000, window_s: float = 0.2) -> float:
    """Seconds of audible audio whose dominant frequency is `hz` (±30 Hz)."""
    n = int(rate * window_s)
    found = 0
    for i in range(0, max(0, len(pcm) - n), n):
        seg = pcm[i : i + n].astype(float)
        if np.sqrt(np.mean(seg**2)) < 500:
            continue
        spec = np.abs(np.fft.rfft(seg * np.hanning(n)))
        if abs(np.fft.rfftfreq(n, 1 / rate)[int(np.argmax(spec))] - hz) < 30:
            found += 1
    return found * window_s
