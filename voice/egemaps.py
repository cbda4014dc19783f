"""openSMILE's eGeMAPS v02 functionals of one turn: the affective-computing standard set, measured beside ours.

eGeMAPS (Eyben et al. 2016) is 88 functionals of pitch, jitter/shimmer, loudness, formants,
spectral slope, alpha ratio, Hammarberg index and MFCCs. It is an optional dependency
(``pip install opensmile``): ``ivr eval frustration`` reports it as a condition beside the
project's own prosody features when it is installed. It is not in the live path: on the
telephone band it did not beat the project's features by the margin its cost would need
(the figures and the decision are in ``ivr/tools/eval_voice.py``'s eGeMAPS rows).

Loudness and its functionals follow the line's level, as ``Prosody.energy_db`` does; the
model recipe jitters nothing here, so those features are kept as opensmile gives them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from voice.audio import int16_to_float


def available() -> bool:
    try:
        import opensmile  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _smile():
    import opensmile

    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals)


def feature_names() -> tuple[str, ...]:
    return tuple(_smile().feature_names)


def functionals(audio: np.ndarray, rate: int) -> dict[str, float]:
    """The 88 eGeMAPS v02 functionals of one turn (int16 samples); NaN (a turn with no voicing) -> 0."""
    y = int16_to_float(audio)
    if len(y) < rate // 10:
        y = np.pad(y, (0, rate // 10 - len(y)))
    row = _smile().process_signal(y, rate).iloc[0]
    return {k: (float(v) if np.isfinite(v) else 0.0) for k, v in row.items()}
