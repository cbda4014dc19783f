"""How agitated a caller's voice sounds: log-odds from one turn, sharper once the caller has a baseline.

A caller who is angry from the first word has an angry baseline, so z-scores against their own
earlier turns cannot hear them. The first-turn model therefore reads only measures that are
comparable across speakers and lines without any history: pitch in semitones against telephone
population norms, its top and spread, where it sits above the speaker's own floor (the range
class), energy against the bot's level on the same line, speaking rate, and the voiced spectrum's
tilt (alpha ratio, Hammarberg index, band shares: vocal effort, which no handset gain changes).
From the second turn a second model adds how far this turn moved from the caller's earlier ones;
it trains on histories that are half in the caller's own state, as calls mostly are, so a caller
angry (or calm) throughout is not read as "no change, so neither".

Both are logistic regressions fitted by ``ivr train arousal`` on acted Polish anger/neutral and on
synthesized English calm/agitated speech (see ``ivr/tools/synth_speech.py`` for which voices trained).
Their output is a log-likelihood ratio, which the frustration fusion adds to the words' logit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from voice.prosody import BAND_KEYS, CallerBaseline, Prosody

DEFAULT_MODEL_PATH = Path(__file__).parent / "data" / "arousal_model.json"
# The bot's Piper voice through the telephone band (mean voiced RMS, dBFS): the line's reference level.
BOT_LEVEL_DB = -24.2
MIN_VOICED_S = 0.2  # less pitched audio than this says nothing about the voice
MIN_RATE_SYLLABLES = 4  # a rate over fewer syllables is noise: the population norm stands in
NORM_RATE_SPS = 4.5  # telephone-band English articulation rate, syllables per second
REF_PITCH_HZ = 100.0

FIRST_TURN_FEATURES = (
    "pitch_st", "pitch_top_st", "pitch_floor_st", "pitch_over_floor_st", "pitch_range_st", "pitch_sd_st",
    "pitch_delta_st", "energy_ref_db", "energy_range_db", "energy_peak_db", "rate_sps", "pause_ratio",
    "alpha_ratio_db", "hammarberg_db", *BAND_KEYS,
)
# Self-relative: this turn minus the mean of the caller's earlier turns.
SELF_FEATURES = ("pitch_st", "pitch_top_st", "energy_ref_db", "rate_sps", "alpha_ratio_db")
RELATIVE_FEATURES = FIRST_TURN_FEATURES + tuple(f"self_{k}" for k in SELF_FEATURES)
_CLIP = {"alpha_ratio_db": (-30.0, 10.0), "hammarberg_db": (0.0, 45.0), "energy_ref_db": (-30.0, 20.0),
         **{k: (-45.0, 0.0) for k in BAND_KEYS}}


def _st(hz: float) -> float:
    return 12.0 * math.log2(max(hz, 40.0) / REF_PITCH_HZ)


def population_features(p: Prosody) -> dict[str, float]:
    """The first-turn measures: comparable across callers with no history."""
    syllables = p.speaking_rate_sps * p.speech_seconds
    d = {
        "pitch_st": _st(p.pitch_median_hz),
        "pitch_top_st": _st(p.pitch_top_hz),
        "pitch_floor_st": _st(p.pitch_floor_hz),
        "pitch_over_floor_st": _st(p.pitch_median_hz) - _st(p.pitch_floor_hz),
        "pitch_range_st": p.pitch_range_st,
        "pitch_sd_st": p.pitch_sd_st,
        "pitch_delta_st": p.pitch_delta_st,
        "energy_ref_db": p.energy_db - BOT_LEVEL_DB,
        "energy_range_db": p.energy_range_db,
        "energy_peak_db": p.energy_peak_db,
        "rate_sps": p.speaking_rate_sps if syllables >= MIN_RATE_SYLLABLES else NORM_RATE_SPS,
        "pause_ratio": p.pause_ratio,
        "alpha_ratio_db": p.alpha_ratio_db,
        "hammarberg_db": p.hammarberg_db,
        **dict(zip(BAND_KEYS, p.bands_db)),
    }
    for k, (lo, hi) in _CLIP.items():
        d[k] = min(hi, max(lo, d[k]))
    return d


def relative_features(p: Prosody, history: Sequence[Prosody]) -> dict[str, float]:
    """The first-turn measures plus this turn's distance from the caller's earlier turns."""
    d = population_features(p)
    prev = [population_features(h) for h in history if h.voiced_seconds > MIN_VOICED_S]
    for k in SELF_FEATURES:
        d[f"self_{k}"] = d[k] - sum(x[k] for x in prev) / len(prev) if prev else 0.0
    return d


@dataclass(frozen=True)
class LinearModel:
    """Standardised logistic regression over named features."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def logit(self, x: Mapping[str, float]) -> float:
        return self.intercept + sum(c * (float(x[k]) - m) / s
                                    for k, m, s, c in zip(self.features, self.mean, self.scale, self.coef))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: Mapping) -> "LinearModel":
        n = len(d["features"])
        if not (len(d["mean"]) == len(d["scale"]) == len(d["coef"]) == n):
            raise ValueError("arousal model: features, mean, scale and coef differ in length")
        return cls(tuple(d["features"]), tuple(map(float, d["mean"])), tuple(map(float, d["scale"])),
                   tuple(map(float, d["coef"])), float(d["intercept"]))


@dataclass(frozen=True)
class ArousalModel:
    """The first-turn model, the with-baseline model, and the clip on their log-odds."""

    first: LinearModel
    relative: LinearModel
    max_abs_logit: float = 6.0
    source: str = ""

    def log_odds(self, p: Prosody, history: Sequence[Prosody] = ()) -> float:
        """log P(agitated) / P(calm) for this turn, given the caller's earlier turns (oldest first)."""
        if p.voiced_seconds <= MIN_VOICED_S:
            return 0.0
        usable = [h for h in history if h.voiced_seconds > MIN_VOICED_S]
        z = self.relative.logit(relative_features(p, usable)) if usable else self.first.logit(population_features(p))
        return max(-self.max_abs_logit, min(self.max_abs_logit, z))

    def to_dict(self) -> dict:
        return {"source": self.source, "max_abs_logit": self.max_abs_logit,
                "first_turn": self.first.to_dict(), "with_baseline": self.relative.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "ArousalModel":
        first, rel = LinearModel.from_dict(d["first_turn"]), LinearModel.from_dict(d["with_baseline"])
        if set(first.features) - set(FIRST_TURN_FEATURES) or set(rel.features) - set(RELATIVE_FEATURES):
            raise ValueError("arousal model: unknown features")
        return cls(first, rel, float(d.get("max_abs_logit", 6.0)), str(d.get("source", "")))

    def save(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")


def load(path: Path | str = DEFAULT_MODEL_PATH) -> ArousalModel:
    return _load(str(path))


@lru_cache(maxsize=4)
def _load(path: str) -> ArousalModel:
    return ArousalModel.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


EVIDENCE_TURNS = 2  # a caller's agitation is a state: the log-odds are averaged over this many turns


@dataclass
class CallerVoice:
    """One caller's voice over a call: z-scores against their earlier turns, and the model's log-odds.

    One turn's log-odds are noisy (a calm caller's single sentence can sound raised); the caller's
    state changes more slowly than that, so from the second turn the evidence is the mean over the
    last EVIDENCE_TURNS turns. The first turn stands alone: there is nothing to average with."""

    model: ArousalModel = field(default_factory=load)
    baseline: CallerBaseline = field(default_factory=CallerBaseline)
    turn_log_odds: list[float] = field(default_factory=list)

    def judge(self, p: Prosody) -> Prosody:
        history = list(self.baseline.history)  # before this turn joins it
        if p.voiced_seconds > MIN_VOICED_S:
            self.turn_log_odds.append(self.model.log_odds(p, history))
            recent = self.turn_log_odds[-EVIDENCE_TURNS:]
            p.arousal = sum(recent) / len(recent)
        else:
            p.arousal = 0.0
        return self.baseline.normalise(p)
