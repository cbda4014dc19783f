"""Fusion of text, prosody and dialogue signals into a per-turn frustration score.

A logistic model: the literature (Lee & Narayanan 2005; Schmitt et al. 2009)
finds lexical, acoustic and dialogue cues complementary, and a linear model
over a dozen named features is small enough for an admin to read. Weights
live in ``data/frustration_weights.json``, not in code, and ``fit_weights``
re-fits them from labelled turns. The voice enters mainly as ``voice_arousal``:
the log-odds of an agitated delivery from ``voice.arousal`` (which works from
the first turn, with no baseline, and reads the caller's own earlier turns once
there are some), added to the words' logit as evidence. A calm-sounding voice
is weak evidence of calm (cold anger is common), so its negative side is cut
at -1 logit: it cannot cancel what the words say. The z-scores against the
caller's earlier turns stay available as features for a re-fit.
The per-turn score is smoothed into a trajectory with an exponential moving
average so a single loud turn does not trip escalation on its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .frustration_text import TextCues

DEFAULT_WEIGHTS_PATH = Path(__file__).parent / "data" / "frustration_weights.json"

TEXT_FEATURES = tuple(f"text_{k}" for k in TextCues().as_dict())
# Prosody z-scores (per caller baseline) the voice package supplies.
PROSODY_FEATURES = (
    "pitch_median_z",
    "pitch_range_z",
    "energy_z",
    "rate_z",
    "pause_ratio_z",
    "voice_arousal",
)
# Each fusion feature and the key it is read from in the turn's prosody dict: exactly the
# keys ``voice.prosody.Prosody.to_dict()`` writes after ``CallerBaseline.normalise`` (the
# ``<feature>_z`` of voice.prosody.FEATURES). The short fusion names are accepted too, for
# hand-written turns (``ivr train frustration`` jsonl exports, tests).
_PROSODY_KEYS = {
    "pitch_median_z": ("pitch_median_hz_z", "pitch_median_z"),
    "pitch_range_z": ("pitch_range_st_z", "pitch_range_z"),
    "energy_z": ("energy_db_z", "energy_z"),
    "rate_z": ("speaking_rate_sps_z", "rate_z"),
    "pause_ratio_z": ("pause_ratio_z",),
    "voice_arousal": ("arousal_logit", "voice_arousal"),
}
# voice.arousal's log-odds enter clipped to this range and divided by its top, so the feature is
# in [-0.25, 1] like the others and its weight reads as "logits added at full agitation".
VOICE_LOGIT_RANGE = (-1.0, 4.0)
# The voice pipeline's z-score keys, in the order of PROSODY_FEATURES, and its log-odds key.
VOICE_PROSODY_KEYS = tuple(keys[0] for name, keys in _PROSODY_KEYS.items() if name != "voice_arousal")
VOICE_AROUSAL_KEY = _PROSODY_KEYS["voice_arousal"][0]
DIALOGUE_FEATURES = ("dialog_no_match", "dialog_no_input", "dialog_barge_in", "dialog_no_progress")
FEATURES = TEXT_FEATURES + PROSODY_FEATURES + DIALOGUE_FEATURES


@dataclass(frozen=True)
class DialogueSignals:
    """Dialogue-level evidence up to and including this turn."""

    no_match_count: int = 0  # consecutive turns the bot did not understand
    no_input_count: int = 0  # consecutive silent turns
    barge_in: bool = False  # the caller interrupted the bot on this turn
    turns_without_progress: int = 0


def prosody_features(prosody: Mapping[str, Any] | None) -> dict[str, float]:
    """Clipped, scaled z-scores in [-1, 1] (z of ±3 saturates) and the voice's log-odds (see
    VOICE_LOGIT_RANGE). Missing keys → 0."""
    out: dict[str, float] = {}
    prosody = prosody or {}
    for name, keys in _PROSODY_KEYS.items():
        z = 0.0
        for k in keys:
            v = prosody.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                z = float(v)
                break
        if name == "voice_arousal":
            lo, hi = VOICE_LOGIT_RANGE
            out[name] = max(lo, min(hi, z)) / hi
        else:
            out[name] = max(-3.0, min(3.0, z)) / 3.0
    return out


def dialogue_features(sig: DialogueSignals) -> dict[str, float]:
    """Counts mapped to [0, 1]; three of anything saturates."""
    return {
        "dialog_no_match": min(sig.no_match_count, 3) / 3.0,
        "dialog_no_input": min(sig.no_input_count, 3) / 3.0,
        "dialog_barge_in": 1.0 if sig.barge_in else 0.0,
        "dialog_no_progress": min(sig.turns_without_progress, 3) / 3.0,
    }


def turn_features(cues: TextCues, prosody: Mapping[str, Any] | None, dialogue: DialogueSignals) -> dict[str, float]:
    """The full named feature vector of one turn."""
    feats = {f"text_{k}": float(v) for k, v in cues.as_dict().items()}
    feats.update(prosody_features(prosody))
    feats.update(dialogue_features(dialogue))
    return feats


@dataclass
class FrustrationWeights:
    """A logistic model over named features, plus the smoothing of its output."""

    bias: float
    weights: dict[str, float]
    ema_alpha: float = 0.5  # weight of the newest turn in the trajectory
    source: str = ""

    @classmethod
    def load(cls, path: Path | str = DEFAULT_WEIGHTS_PATH) -> "FrustrationWeights":
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "FrustrationWeights":
        unknown = set(doc.get("weights", {})) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown frustration features: {sorted(unknown)}")
        return cls(
            bias=float(doc["bias"]),
            weights={k: float(v) for k, v in doc["weights"].items()},
            ema_alpha=float(doc.get("ema_alpha", 0.5)),
            source=str(doc.get("source", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"bias": self.bias, "weights": dict(self.weights), "ema_alpha": self.ema_alpha, "source": self.source}

    def save(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def score(self, features: Mapping[str, float]) -> float:
        """P(frustrated | features) in [0, 1]."""
        z = self.bias + sum(w * float(features.get(k, 0.0)) for k, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def contributions(self, features: Mapping[str, float]) -> dict[str, float]:
        """Each feature's additive share of the logit (for explaining a score)."""
        return {k: w * float(features.get(k, 0.0)) for k, w in self.weights.items() if features.get(k)}


@dataclass
class Trajectory:
    """Per-turn scores and their exponential moving average."""

    alpha: float = 0.5
    raw: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)

    def add(self, score: float) -> float:
        prev = self.smoothed[-1] if self.smoothed else score
        s = score if not self.smoothed else self.alpha * score + (1 - self.alpha) * prev
        self.raw.append(score)
        self.smoothed.append(s)
        return s

    @property
    def current(self) -> float:
        return self.smoothed[-1] if self.smoothed else 0.0

    @property
    def peak(self) -> float:
        return max(self.raw) if self.raw else 0.0

    @property
    def trend(self) -> float:
        """Change of the smoothed score over the last three turns."""
        if len(self.smoothed) < 2:
            return 0.0
        return self.smoothed[-1] - self.smoothed[max(0, len(self.smoothed) - 3)]


# A turn's parts (``Dialog._parts``: the score's logit split by where it came from) and the names
# the agent desktop and the call page show for them.
PART_NAMES = {"prosody": "voice", "text": "words", "dialogue": "dialogue"}


def drove(parts: Mapping[str, Any] | None) -> str | None:
    """Which part drove a turn's score: the name ("voice", "words", "dialogue") of the largest
    positive contribution to its logit, the bias left out. None when no part added anything (a
    calm turn, or a turn stored without its parts); a tie goes to the part listed first in
    ``PART_NAMES``."""
    if not isinstance(parts, Mapping):
        return None
    best, top = None, 0.0
    for key, name in PART_NAMES.items():
        v = parts.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > top:
            best, top = name, float(v)
    return best


@dataclass(frozen=True)
class LabelledTurn:
    """One turn's features and whether a person judged the caller frustrated."""

    features: Mapping[str, float]
    frustrated: bool


def _as_labelled(t: LabelledTurn | Mapping[str, Any]) -> LabelledTurn:
    if isinstance(t, LabelledTurn):
        return t
    label = t.get("frustrated", t.get("label"))
    return LabelledTurn(dict(t["features"]), bool(label))


def fit_weights(
    labelled_turns: Iterable[LabelledTurn | Mapping[str, Any]],
    c: float = 1.0,
    ema_alpha: float = 0.5,
    features: tuple[str, ...] = FEATURES,
) -> FrustrationWeights:
    """Fit the logistic weights from labelled turns (L2-regularised).

    Accepts ``LabelledTurn`` or dicts ``{"features": {...}, "frustrated": bool}``.
    Needs both classes present. ``class_weight="balanced"`` keeps a rare
    frustrated class from being ignored; the bias is then shifted back to the
    observed base rate so scores stay probabilities.
    """
    from sklearn.linear_model import LogisticRegression
    import numpy as np

    turns = [_as_labelled(t) for t in labelled_turns]
    y = np.array([1 if t.frustrated else 0 for t in turns])
    if len(set(y.tolist())) < 2:
        raise ValueError("fit_weights needs both frustrated and calm turns")
    x = np.array([[float(t.features.get(f, 0.0)) for f in features] for t in turns])
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y)
    pos = float(y.mean())
    # balanced weighting trains as if the prior were 0.5; restore the real prior
    bias = float(lr.intercept_[0]) + math.log(pos / (1 - pos))
    weights = {f: round(float(w), 4) for f, w in zip(features, lr.coef_[0]) if abs(w) > 1e-6}
    return FrustrationWeights(round(bias, 4), weights, ema_alpha, source=f"fit_weights on {len(turns)} turns")
