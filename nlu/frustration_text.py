"""Text cues of caller frustration, each a named feature in [0, 1].

A general sentiment lexicon (VADER) misses call-centre frustration: "on hold
for an hour and nobody can help me" scores positive, and sarcasm ("oh great",
"thanks for nothing") scores very positive. So domain cue rules sit beside
it, and semantic repetition of the caller's earlier turns (the bot did not
understand, the caller says it again) comes from sentence embeddings.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .textnorm import normalise


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b")


EXPLICIT = _rx(
    r"ridiculous", r"unbelievable", r"absurd", r"outrageous", r"pathetic", r"useless",
    r"hopeless", r"a joke", r"fed up", r"sick (?:and tired )?of", r"had enough",
    r"waste of (?:my )?time", r"frustrat\w*", r"annoy\w*", r"furious", r"angry",
    r"fuming", r"livid", r"disgrace\w*", r"incompetent", r"are you (?:serious|kidding)",
    r"you(?:'re| are) not listening", r"not listening", r"do you (?:even )?understand",
    r"what is wrong with you", r"this is (?:insane|crazy|terrible|awful|a nightmare)",
    r"nightmare", r"terrible service", r"worst",
)
REPEATED = _rx(
    r"(?:i )?already (?:told|said|gave|explained)", r"i just (?:told|said)", r"i said",
    r"i keep (?:telling|saying)", r"how many times", r"(?:second|third|fourth|fifth|tenth|hundredth) time",
    r"(?:twice|three times|four times) (?:already|now)", r"again and again", r"over and over",
    r"for the (?:last|umpteenth) time", r"(?:called|rung|phoned) (?:\w+ )?(?:times|before|again)",
    r"every time", r"same thing again", r"like i said", r"as i said",
)
SARCASM = _rx(
    r"oh (?:great|wonderful|perfect|brilliant|fantastic|lovely|super|good)",
    r"thanks for nothing", r"thanks a lot", r"yeah right", r"(?:just )?brilliant just brilliant",
    r"great just great", r"well done", r"how helpful", r"very helpful not",
    r"wow thanks", r"so helpful", r"real(?:ly)? helpful",
)
PROFANITY = _rx(
    r"damn\w*", r"hell", r"crap\w*", r"bloody", r"shit\w*", r"bullshit", r"fuck\w*",
    r"f\w*ing", r"wtf", r"piss\w*", r"bastard\w*", r"arse\w*", r"ass", r"asshole",
    r"screw (?:this|you|it)", r"bollocks", r"goddamn\w*", r"christ", r"jesus",
)
HUMAN_DEMAND = _rx(
    r"(?:real|actual|live) (?:person|human|agent)", r"(?:a |an )?human(?: being)?",
    r"(?:an? )?(?:agent|operator|representative|advisor|adviser)",
    r"(?:your |a |the )?(?:manager|supervisor)", r"speak to (?:someone|somebody|a person)",
    r"talk to (?:someone|somebody|a person)", r"(?:stupid |useless )?(?:robot|machine|bot)",
    r"(?:want|need|get me|give me|put me through to) (?:a |an )?(?:person|human|someone|somebody)",
)
WAITING = _rx(
    r"on hold", r"(?:for|over|nearly|almost) (?:an|one|two|three|half an) hours?",
    r"(?:an|one|two|three|\d+) hours?", r"(?:been|kept) waiting", r"waited", r"ages",
    r"(?:for|in) (?:days|weeks|months)", r"(?:two|three|four|several|\d+) (?:days|weeks|months)",
    r"nobody (?:can|will|ever|has)", r"no one (?:can|will|ever|has)", r"still (?:nothing|waiting|not)",
    r"never (?:arrived|came|called|got)", r"no (?:reply|response|answer|call back|callback)",
)
INTENSIFIERS = _rx(r"absolutely", r"completely", r"totally", r"seriously", r"really", r"so", r"very", r"utterly")


@dataclass(frozen=True)
class TextCues:
    """Named frustration cues of one caller turn, each in [0, 1]."""

    explicit: float = 0.0  # "this is ridiculous", "fed up"
    repeated_complaint: float = 0.0  # "I already told you", "third time"
    sarcasm: float = 0.0  # "oh great", "thanks for nothing"
    profanity: float = 0.0
    human_demand: float = 0.0  # "get me a real person"
    waiting: float = 0.0  # "on hold for an hour", "nobody can help"
    negative_sentiment: float = 0.0  # VADER, negative side only
    emphasis: float = 0.0  # "!!", SHOUTED WORDS, intensifiers
    repetition: float = 0.0  # semantic similarity to an earlier caller turn

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _count_score(n: int) -> float:
    return 0.0 if n == 0 else (0.75 if n == 1 else 1.0)


_vader_lock = threading.Lock()
_vader = None


def vader_compound(text: str) -> float:
    """VADER compound polarity in [-1, 1] (shared analyser, loaded once)."""
    global _vader
    if _vader is None:
        with _vader_lock:
            if _vader is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _vader = SentimentIntensityAnalyzer()
    return float(_vader.polarity_scores(text)["compound"])


def repetition_score(embedding: np.ndarray | None, previous: Sequence[np.ndarray]) -> float:
    """How closely this turn repeats an earlier one: cosine 0.6 → 0, 0.95 → 1."""
    if embedding is None or len(previous) == 0:
        return 0.0
    sims = np.asarray(previous, dtype=np.float32) @ np.asarray(embedding, dtype=np.float32)
    return float(np.clip((float(sims.max()) - 0.6) / 0.35, 0.0, 1.0))


def text_cues(
    text: str,
    embedding: np.ndarray | None = None,
    previous_embeddings: Sequence[np.ndarray] = (),
    use_vader: bool = True,
) -> TextCues:
    """Frustration cues of one turn; pass embeddings to score repetition."""
    norm = normalise(text)
    if not norm:
        return TextCues()
    sarcasm = _count_score(len(SARCASM.findall(norm)))
    raw = text.strip()
    upper_words = [w for w in re.findall(r"[A-Za-z]{3,}", raw) if w.isupper()]
    shouted = len(upper_words) / max(1, len(re.findall(r"[A-Za-z]{3,}", raw)))
    emphasis = min(1.0, 0.35 * raw.count("!") + (shouted if raw != raw.upper() or len(upper_words) > 2 else 0.0)
                   + 0.2 * len(INTENSIFIERS.findall(norm)))
    neg = 0.0
    if use_vader and len(norm.split()) >= 3:  # VADER reads a bare "no" as negative
        compound = vader_compound(text)
        neg = max(0.0, -compound)
    profanity_hits = len(PROFANITY.findall(norm)) + raw.count("***") + len(re.findall(r"\w\*+\w?", raw))
    return TextCues(
        explicit=_count_score(len(EXPLICIT.findall(norm))),
        repeated_complaint=_count_score(len(REPEATED.findall(norm))),
        sarcasm=sarcasm,
        profanity=_count_score(profanity_hits),
        human_demand=_count_score(len(HUMAN_DEMAND.findall(norm))),
        waiting=_count_score(len(WAITING.findall(norm))),
        negative_sentiment=round(neg, 4),
        emphasis=round(emphasis, 4),
        repetition=round(repetition_score(embedding, previous_embeddings), 4),
    )
