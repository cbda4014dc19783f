"""`ivr train arousal`: fit the voice model (``voice/data/arousal_model.json``) from labelled voice turns.

Training data: the Polish anger/neutral set (all five speakers) and the espeak-ng training voices
of ``ivr.tools.synth_speech`` (never the test voices or the pair sentences). Two logistic regressions:
the first-turn model on each clip alone, and the with-baseline model on each clip after a seeded
random draw of the same speaker's other clips as a call's earlier turns: for half the samples in
the clip's own state (a caller's state mostly lasts the call), for the rest from every state.

Each training speaker gets a random gain of up to ±GAIN_JITTER_DB, so the model cannot learn a
corpus's recording level as if it were the caller's effort.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
from pathlib import Path
from typing import Sequence

from voice.arousal import (DEFAULT_MODEL_PATH, FIRST_TURN_FEATURES, RELATIVE_FEATURES, ArousalModel, LinearModel,
                           population_features, relative_features)

from ivr.tools.voice_corpora import VoiceSample

C = 0.03  # strong L2
GAIN_JITTER_DB = 4.0
HISTORY_TURNS = 4  # earlier turns a with-baseline sample sees
SAME_STATE = 0.5  # share of with-baseline training samples whose history is in their own state (see call_histories)


def jitter_gain(samples: Sequence[VoiceSample], seed: int = 0) -> list[VoiceSample]:
    """A copy of the samples with one random gain per speaker (only energy_db is level-bound)."""
    rng = random.Random(seed)
    gains: dict[str, float] = {}
    out = []
    for s in samples:
        g = gains.setdefault(f"{s.corpus}/{s.speaker}", rng.uniform(-GAIN_JITTER_DB, GAIN_JITTER_DB))
        p = copy.copy(s.prosody)
        p.energy_db += g
        out.append(VoiceSample(s.corpus, s.speaker, s.agitated, s.text, p, s.call, s.path))
    return out


def with_history(samples: Sequence[VoiceSample], seed: int = 0) -> list[tuple[VoiceSample, list]]:
    """Each sample with up to HISTORY_TURNS earlier ones of the same speaker, in a seeded random order."""
    by_speaker: dict[str, list[VoiceSample]] = {}
    for s in samples:
        by_speaker.setdefault(f"{s.corpus}/{s.speaker}", []).append(s)
    out = []
    for key, group in sorted(by_speaker.items()):
        order = list(group)
        random.Random(f"{seed}:{key}").shuffle(order)
        for i, s in enumerate(order):
            if i:
                out.append((s, [h.prosody for h in order[max(0, i - HISTORY_TURNS):i]]))
    return out


def call_histories(samples: Sequence[VoiceSample], seed: int = 0,
                   same_state: float | None = None) -> list[tuple[VoiceSample, list]]:
    """Each sample with up to HISTORY_TURNS earlier turns of the same speaker, as calls have them.

    A caller's state mostly lasts the call: a calm caller's earlier turns are calm, one angry from
    the first word has angry ones. For a ``same_state`` share of the samples the history is drawn
    from the speaker's clips of the sample's own state; for the rest from all their clips (a caller
    whose state changed). Trained on mixed histories only, the model learned that agitation is
    "above one's own mean", and read a caller of one state against a baseline of that state as
    neither: calm callers drifted up and angry ones down from the second turn.
    """
    same_state = SAME_STATE if same_state is None else same_state
    by_speaker: dict[str, list[VoiceSample]] = {}
    for s in samples:
        by_speaker.setdefault(f"{s.corpus}/{s.speaker}", []).append(s)
    out = []
    for key, group in sorted(by_speaker.items()):
        rng = random.Random(f"{seed}:{key}")
        for s in group:
            pool = [o for o in group if o is not s]
            if rng.random() < same_state:
                pool = [o for o in pool if o.agitated == s.agitated]
            k = rng.randint(1, HISTORY_TURNS)
            if pool:
                out.append((s, [h.prosody for h in rng.sample(pool, min(k, len(pool)))]))
    return out


def _fit(rows: list[dict[str, float]], labels: list[bool], features: tuple[str, ...], c: float) -> LinearModel:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r[k] for k in features] for r in rows])
    y = np.array([int(v) for v in labels])
    if len(set(y.tolist())) < 2:
        raise ValueError("need agitated and calm samples")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit((x - mean) / scale, y)
    r = lambda v: round(float(v), 5)  # noqa: E731
    return LinearModel(features, tuple(map(r, mean)), tuple(map(r, scale)), tuple(map(r, lr.coef_[0])),
                       r(lr.intercept_[0]))


def fit_first(samples: Sequence[VoiceSample], c: float = C, seed: int = 0) -> LinearModel:
    ss = jitter_gain(samples, seed)
    return _fit([population_features(s.prosody) for s in ss], [s.agitated for s in ss], FIRST_TURN_FEATURES, c)


def fit_relative(samples: Sequence[VoiceSample], c: float = C, seed: int = 0) -> LinearModel:
    pairs = call_histories(jitter_gain(samples, seed), seed)
    return _fit([relative_features(s.prosody, h) for s, h in pairs], [s.agitated for s, _ in pairs],
                RELATIVE_FEATURES, c)


def fit_model(samples: Sequence[VoiceSample], c: float = C, seed: int = 0, source: str = "") -> ArousalModel:
    return ArousalModel(fit_first(samples, c, seed), fit_relative(samples, c, seed), source=source)


def out_of_fold_logits(samples: Sequence[VoiceSample], c: float = C, seed: int = 0) -> list[float]:
    """Each sample's first-turn log-odds from a model fitted without its speaker."""
    out = [0.0] * len(samples)
    for key in sorted({(s.corpus, s.speaker) for s in samples}):
        model = fit_first([s for s in samples if (s.corpus, s.speaker) != key], c, seed)
        for i, s in enumerate(samples):
            if (s.corpus, s.speaker) == key:
                out[i] = model.logit(population_features(s.prosody))
    return out


def calibration_slope(logits: Sequence[float], labels: Sequence[bool]) -> float:
    """How many logits of evidence one logit of the model is worth on unseen speakers (Platt slope)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=100.0, class_weight="balanced").fit(np.array(logits)[:, None], [int(v) for v in labels])
    return round(float(lr.coef_[0][0]), 3)


def training_samples(cache: Path, models=None) -> list[VoiceSample]:
    from ivr.tools import voice_corpora as vc

    if models is None:
        from voice.models import shared_models

        models = shared_models()
    return vc.polish(cache) + vc.synth_train(cache, models)


def describe(samples: Sequence[VoiceSample]) -> str:
    parts = {}
    for s in samples:
        n, a, spk = parts.get(s.corpus, (0, 0, set()))
        spk.add(s.speaker)
        parts[s.corpus] = (n + 1, a + s.agitated, spk)
    return "; ".join(f"{k}: {n} clips ({a} agitated), {len(spk)} speakers" for k, (n, a, spk) in parts.items())


def run(args: argparse.Namespace) -> int:
    from ivr.tools.polish_corpus import MissingData, default_cache

    cache = Path(getattr(args, "cache", None) or default_cache())
    out = Path(getattr(args, "out", None) or DEFAULT_MODEL_PATH)
    try:
        samples = training_samples(cache)
    except MissingData as exc:
        print(f"ivr train arousal: {exc}; run scripts/fetch_eval_data.sh first", file=sys.stderr)
        return 2
    what = describe(samples)
    oof = out_of_fold_logits(samples)
    slope = calibration_slope(oof, [s.agitated for s in samples])
    real = [i for i, s in enumerate(samples) if not s.corpus.startswith("synth")]
    real_slope = calibration_slope([oof[i] for i in real], [samples[i].agitated for i in real]) if real else slope
    model = fit_model(samples, source=f"ivr train arousal (C={C}, gain jitter ±{GAIN_JITTER_DB} dB per speaker) on {what}; "
                                       "voices: ivr/tools/synth_speech.py TRAIN_VOICES x TRAIN_SENTENCES; "
                                       f"with-baseline histories {SAME_STATE:.0%} in the clip's own state; "
                                       f"leave-one-speaker-out calibration slope {slope} (real speech alone {real_slope})")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    from nlu.fusion import VOICE_LOGIT_RANGE

    print(f"{what}\nleave-one-speaker-out calibration slope {slope}, on real speech alone {real_slope}: the fusion "
          f"weight of voice_arousal that adds calibrated log-odds is {round(real_slope * VOICE_LOGIT_RANGE[1], 2)} on real "
          f"speech (shipped), {round(slope * VOICE_LOGIT_RANGE[1], 2)} over all\nwrote {out}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--cache", default=None, help="evaluation data (default: $IVR_EVAL_CACHE or cache/eval)")
    p.add_argument("--out", default=str(DEFAULT_MODEL_PATH), help="model file to write (default: %(default)s)")
    return p
