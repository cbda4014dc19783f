"""openSMILE's eGeMAPS v02 functionals of one turn: the affective-computing standard set, measured beside ours.

eGeMAPS (Eyben et al. 2016) is 88 functionals of pitch, jitter/shimmer, loudness, formants,
spectral slope, alpha ratio, Hammarberg index and MFCCs. It is an optional dependency
(``pip install opensmile``): ``ivr eval frustration`` reports it as a condition beside the
project's own prosody features when it is installed. It is not in the live path: on the
telephone band it reads anger somewhat better (Polish leave-one-speaker-out, no baseline, same
logistic recipe: 0.906 alone, 0.921 beside ours, against 0.886), but one turn costs ~4x the
whole of ``voice.prosody.extract`` (p95 78-157 ms on 2-5 s turns on the 2-core box under load,
ours 27-51 ms in the same minutes; 8 kHz input is no cheaper), and a turn may add 20 ms.

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
