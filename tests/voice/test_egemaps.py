"""voice.egemaps: openSMILE's eGeMAPS v02 functionals of one turn (optional: skipped without opensmile)."""

import numpy as np
import pytest

pytest.importorskip("opensmile")

from voice import egemaps  # noqa: E402


def test_functionals_of_a_voiced_turn_and_of_silence():
    t = np.arange(32000) / 16000
    tone = (0.2 * np.sin(2 * np.pi * 150 * t) * 32767).astype(np.int16)
    got = egemaps.functionals(tone, 16000)
    assert egemaps.available() and len(got) == 88 and tuple(got) == egemaps.feature_names()
    assert 140 < 27.5 * 2 ** (got["F0semitoneFrom27.5Hz_sma3nz_amean"] / 12) < 160  # the pitch it heard
    quiet = egemaps.functionals(np.zeros(100, dtype=np.int16), 16000)  # padded; NaNs become 0
    assert len(quiet) == 88 and all(np.isfinite(v) for v in quiet.values())
