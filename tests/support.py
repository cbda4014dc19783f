"""Helpers for the end-to-end tests: test tones; ports and `ivr serve` as a process come from ivr.tools.harness."""

from __future__ import annotations

import numpy as np

from ivr.tools.harness import IVR_CMD, Service, free_port, running_service

__all__ = ["IVR_CMD", "Service", "free_port", "running_service", "tone", "tone_seconds"]


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
