"""`ivr bench transfer`: its pure parts (the end-to-end run is the bench itself, on a quiet machine)."""

import numpy as np

from ivr.tools.bench_transfer import TARGETS_MS, met, whisper_seconds


def test_whisper_seconds_is_the_first_voiced_stretch_pauses_included():
    t = np.arange(8000) / 8000
    word = (6000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)  # 1 s
    gap = np.zeros(2400, dtype=np.int16)  # 0.3 s: a comma's pause, inside the whisper
    after = np.zeros(8000, dtype=np.int16)  # then the caller (silent here)
    pcm = np.concatenate([np.zeros(1600, dtype=np.int16), word, gap, word, after, word])
    assert whisper_seconds(pcm) == 2.3
    assert whisper_seconds(np.zeros(8000, dtype=np.int16)) == 0.0


def test_targets_are_met_on_p95_and_not_when_unmeasured():
    fast = {"answer_to_bridge_ms": [3000.0] * 19 + [4900.0], "trip_to_bridge_ms": [3500.0] * 20}
    assert met(fast) == {"answer_to_bridge_ms": True, "trip_to_bridge_ms": True}
    slow = {"answer_to_bridge_ms": [3000.0] * 10 + [6000.0] * 10, "trip_to_bridge_ms": []}
    assert met(slow) == {"answer_to_bridge_ms": False, "trip_to_bridge_ms": False}
    assert TARGETS_MS == {"answer_to_bridge_ms": 5000.0, "trip_to_bridge_ms": 8000.0}
