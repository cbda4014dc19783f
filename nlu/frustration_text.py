"""Text cues of caller frustration, each a named feature in [0, 1].

A general sentiment lexicon (VADER) misses call-centre frustration: "on hold
for an hour and nobody can help me" scores positive, and sarcasm ("oh great",
"thanks for nothing") scores very positive. So domain cue rules sit beside
it, and semantic repetition of the caller's earlier turns (the bot did not
understand, the caller says it again) comes from sentence embeddings.

Keyword rules only catch callers who use the words someone thought of, so a
semantic cue sits on top: a logistic regression over the MiniLM embeddings of
``data/frustration_exemplars.yaml`` (frustrated and calm caller lines written
for it), fitted once per process and applied to the turn's own embedding.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .textnorm import normalise


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b")


# A hit preceded (within three words) by one of these does not count: "not
# ridiculous", "i'm not angry", "it's not the worst". Patterns that start
# with the negation themselves ("not listening") are unaffected. "no" and
# "never" are left out: "no, i already told you", "never been so angry".
_NEGATORS = frozenset({
    "not", "hardly", "isn't", "wasn't", "aren't", "don't", "didn't", "doesn't", "won't", "wouldn't",
    "nor", "without", "isnt", "dont", "didnt", "wasnt",
})

EXPLICIT = _rx(
    r"ridiculous", r"unbelievable", r"absurd", r"outrageous", r"pathetic", r"useless",
    r"hopeless", r"unacceptable", r"appalling", r"disgusting", r"shocking",
    # "a joke" only as a verdict that ends the clause ("it's a joke", "a joke and..."), not a
    # noun modifier ("a joke shop", "a joke book")
    r"(?:is|are|was|it's|that's|this's|you're|you are) (?:\w+ )?(?:a |an )?(?:absolute |complete |total |bloody |such a )?joke"
    r"(?! (?!(?:and|but|now|mate|isn't|is|really|honestly|frankly|to|of|right|this|it|you)\b)\w)",
    r"beyond a joke", r"farce", r"fed up", r"sick (?:and tired |to death )?of", r"had enough", r"enough is enough",
    r"waste of (?:my )?(?:time|money|effort)", r"frustrat\w*", r"annoy(?:ed|ing)", r"furious", r"angry",
    r"fuming", r"livid", r"disgrace\w*", r"incompetent", r"are you (?:serious|kidding|having a laugh)",
    r"you(?:'re| are) not listening", r"not listening", r"do you (?:even )?understand",
    r"what is wrong with you", r"this is (?:insane|crazy|terrible|awful|a nightmare)",
    r"(?:a |an absolute |a complete |a total )nightmare", r"terrible service",
    r"(?:the )?worst (?:\w+ )?(?:ever|service|company|experience|customer service)", r"i give up",
    r"not good enough", r"(?:at|lost) my wits'? end",
)
REPEATED = _rx(
    r"(?:i )?already (?:told|said|gave|explained)", r"i just (?:told|said)", r"i said",
    r"i keep (?:telling|saying)", r"how many times", r"(?:second|third|fourth|fifth|tenth|hundredth) time",
    r"(?:twice|three times|four times) (?:already|now)", r"again and again", r"over and over",
    r"for the (?:last|umpteenth) time", r"(?:called|rung|phoned) (?:\w+ )?(?:times|before|again)",
    r"every (?:single )?time i", r"same thing again", r"like i said", r"as i said",
)
SARCASM = _rx(
    # "oh great" is sarcastic unless thanks or a happy outcome follows ("oh great, thank you")
    r"oh (?:great|wonderful|perfect|brilliant|fantastic|lovely|super|good|joy)(?! (?:thank|thanks|cheers|that's (?:sorted|great|perfect|the one)|so it'?s? (?:sorted|fixed)))",
    r"thanks for nothing", r"cheers for nothing", r"thank you for nothing", r"yeah right",
    r"(?:just )?brilliant just brilliant", r"great just great", r"how helpful", r"(?:very|so|really) helpful not",
    r"wow thanks", r"oh (?:very|so|really) helpful", r"just what i needed", r"lucky me", r"what a surprise",
)
PROFANITY = _rx(
    r"damn\w*", r"hell(?! of an?\b)", r"crap\w*", r"bloody", r"shit\w*", r"bullshit", r"fuck\w*",
    r"f\w*k(?:ing|in)", r"feckin\w*", r"frigging", r"freaking", r"effing", r"wtf", r"piss(?:ed|ing)?(?: off)?",
    r"bastard\w*", r"arse(?:hole)?s?", r"ass", r"asshole", r"screw (?:this|you|it)", r"bollocks",
    r"goddamn\w*", r"christ(?:'s sake)?", r"jesus",
)
HUMAN_DEMAND = _rx(
    r"(?:real|actual|live) (?:person|human|agent)", r"(?:a |an )?human(?: being)?(?! readable)",
    r"(?:an? )?(?:agent|operator|representative|advisor|adviser)",
    r"(?:your |a |the )(?:manager|supervisor)", r"speak to (?:someone|somebody|a person)",
    r"talk to (?:someone|somebody|a person)",
    # the bot itself, not a product with "robot" or "machine" in its name
    r"(?:stupid|useless|bloody|damn|dumb|automated|another|you|you're|you are a|are you a|to a|with a|to this|with this)"
    r" (?:robot|machine|bot|computer)(?! (?:vacuum|hoover|cleaner|mower|kit|toy|arm|that|which))",
    r"(?:want|need|get me|give me|put me through to) (?:a |an )?(?:person|human|someone|somebody)",
)
WAITING = _rx(
    r"on hold", r"(?:for|over|nearly|almost|more than|the best part of) (?:an|one|two|three|half an) hours?",
    r"(?:been|kept|sitting here|stuck) (?:\w+ )?waiting", r"waited", r"for ages",
    r"for (?:days|weeks|months)", r"(?:two|three|four|several|\d+) (?:days|weeks|months) (?:now|already|and)",
    r"nobody (?:can|will|ever|has)", r"no one (?:can|will|ever|has)", r"still (?:nothing|waiting|no)",
    r"never (?:arrived|came|turned up|got)", r"no (?:reply|response|call back|callback)",
    r"(?:you|they) promised", r"supposed to (?:arrive|be here|come|ring|call)",
)
INTENSIFIERS = _rx(r"absolutely", r"completely", r"totally", r"seriously", r"utterly")
# VADER counts only on a complaint-shaped turn: aimed at the company, the bot or the
# situation, and not a polite request ("unfortunately my card was stolen, could you...").
_COMPLAINT_TARGET = _rx(
    r"you", r"your", r"you're", r"you've", r"you lot", r"this", r"that", r"they", r"them", r"it",
    r"it's", r"service", r"company", r"system",
)
_POLITE = _rx(
    r"please", r"could you", r"would you", r"i'd like", r"i would like", r"i need to", r"can i",
    r"thank(?:s| you)", r"sorry", r"afraid", r"unfortunately", r"wondering", r"appreciate",
)
STRONG_NEGATIVE = -0.5  # VADER compound at or below which negativity counts


def _hits(rx: re.Pattern[str], norm: str, negatable: bool = True) -> int:
    """Matches of ``rx`` in ``norm`` that are not negated by the three words before them."""
    n = 0
    for m in rx.finditer(norm):
        if negatable and _NEGATORS.intersection(norm[: m.start()].split()[-3:]):
            continue
        n += 1
    return n


@dataclass(frozen=True)
class TextCues:
    """Named frustration cues of one caller turn, each in [0, 1]."""

    explicit: float = 0.0  # "this is ridiculous", "fed up"
    repeated_complaint: float = 0.0  # "I already told you", "third time"
    sarcasm: float = 0.0  # "oh great", "thanks for nothing"
    profanity: float = 0.0
    human_demand: float = 0.0  # "get me a real person"
    waiting: float = 0.0  # "on hold for an hour", "nobody can help"
    negative_sentiment: float = 0.0  # VADER, strongly negative complaint-shaped turns only
    emphasis: float = 0.0  # "!!", SHOUTED WORDS, intensifiers
    repetition: float = 0.0  # semantic similarity to an earlier caller turn
    semantic: float = 0.0  # embedding model over data/frustration_exemplars.yaml

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


EXEMPLARS_PATH = Path(__file__).parent / "data" / "frustration_exemplars.yaml"
SEMANTIC_C = 3.0  # L2 strength of the exemplar model (chosen by 10-fold CV on the exemplars)
# The model's probability below this reads as "no cue" (0), like the other cues on a calm
# turn (about 60% of calm exemplars score below it out-of-fold). Costs ~0.01 of exemplar CV AUC,
# and keeps refits that hold a constant text feature fixed (ivr train frustration) honest.
SEMANTIC_FLOOR = 0.3


def load_exemplars(path: Path | str = EXEMPLARS_PATH) -> tuple[list[str], list[bool]]:
    """The exemplar utterances and their labels (frustrated first, then calm)."""
    import yaml

    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    texts: list[str] = []
    labels: list[bool] = []
    for key, label in (("frustrated", True), ("calm", False)):
        items = doc.get(key) or []
        if not all(isinstance(t, str) and t.strip() for t in items):
            raise ValueError(f"{path}: every {key!r} exemplar must be a non-empty string (quote yes/no)")
        texts += items
        labels += [label] * len(items)
    if not texts or all(labels) or not any(labels):
        raise ValueError(f"{path}: needs both frustrated and calm exemplars")
    return texts, labels


@dataclass(frozen=True)
class FittedSemantic:
    """The exemplar model's fitted weights (the start-up cache keeps them)."""

    coef: np.ndarray  # (embedding dim,), float32
    intercept: float


class SemanticFrustration:
    """P(frustrated) of a turn embedding, from a logistic regression over the exemplars.

    Fitted on first use from ``frustration_exemplars.yaml`` (one batch embedding of
    a few hundred short lines, about 2 s on one core) and kept in process; scoring
    is then one dot product over the turn's existing embedding.
    """

    def __init__(
        self,
        path: Path | str = EXEMPLARS_PATH,
        c: float = SEMANTIC_C,
        embed_fn: Callable[[Sequence[str]], np.ndarray] | None = None,
    ) -> None:
        self.path = Path(path)
        self.c = c
        self._embed_fn = embed_fn
        self._lock = threading.Lock()
        self._coef: np.ndarray | None = None
        self._intercept = 0.0
        self._data: tuple[np.ndarray, np.ndarray] | None = None

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._embed_fn is None:
            from .embeddings import embed

            self._embed_fn = embed
        return np.asarray(self._embed_fn([normalise(t) for t in texts]), dtype=np.float32)

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """Exemplar embeddings and 0/1 labels."""
        if self._data is None:
            texts, labels = load_exemplars(self.path)
            self._data = (self._embed(texts), np.array(labels, dtype=int))
        return self._data

    @staticmethod
    def _fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y)
        return lr.coef_[0].astype(np.float32), float(lr.intercept_[0])

    def fit(self) -> "SemanticFrustration":
        with self._lock:
            if self._coef is None:
                x, y = self.data()
                self._coef, self._intercept = self._fit(x, y, self.c)
        return self

    def fitted(self) -> FittedSemantic:
        self.fit()
        return FittedSemantic(self._coef, self._intercept)

    @classmethod
    def from_fitted(cls, fitted: FittedSemantic, path: Path | str = EXEMPLARS_PATH, c: float = SEMANTIC_C,
                    embed_fn: Callable[[Sequence[str]], np.ndarray] | None = None) -> "SemanticFrustration":
        """A model restored from an earlier fit on the exemplars at ``path``."""
        model = cls(path, c, embed_fn)
        model._coef = np.asarray(fitted.coef, dtype=np.float32)
        model._intercept = float(fitted.intercept)
        return model

    def score(self, embedding: np.ndarray | None) -> float:
        """P(frustrated) in [0, 1]; 0 without an embedding of the model's size."""
        if embedding is None:
            return 0.0
        if self._coef is None:
            self.fit()
        e = np.asarray(embedding, dtype=np.float32).ravel()
        if e.shape != self._coef.shape or not np.all(np.isfinite(e)):
            return 0.0
        z = float(self._coef @ e) + self._intercept
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def out_of_fold(self, folds: int = 10, seed: int = 0) -> np.ndarray:
        """Each exemplar's score from a model fitted on the other folds (stratified)."""
        from sklearn.model_selection import StratifiedKFold

        x, y = self.data()
        oof = np.zeros(len(y))
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
            coef, b = self._fit(x[tr], y[tr], self.c)
            oof[te] = 1.0 / (1.0 + np.exp(-(x[te] @ coef + b)))
        return oof

    def cross_validate(self, folds: int = 10, seed: int = 0) -> dict[str, Any]:
        """Cross-validated AUC of the cue on the exemplars themselves."""
        from sklearn.metrics import roc_auc_score

        _, y = self.data()
        oof = self.out_of_fold(folds, seed)
        return {"folds": folds, "n": int(len(y)), "frustrated": int(y.sum()),
                "auc": round(float(roc_auc_score(y, oof)), 4)}


_semantic_lock = threading.Lock()
_semantic: SemanticFrustration | None = None


def get_semantic_model() -> SemanticFrustration:
    """The process-wide exemplar model, fitted on first use (thread-safe)."""
    global _semantic
    if _semantic is None:
        with _semantic_lock:
            if _semantic is None:
                _semantic = SemanticFrustration().fit()
    return _semantic


def install_semantic_model(model: SemanticFrustration) -> None:
    """Make ``model`` the process-wide one (the service restores it from its start-up cache)."""
    global _semantic
    with _semantic_lock:
        _semantic = model


def semantic_frustration(embedding: np.ndarray | None) -> float:
    """How much a turn's embedding resembles the frustrated exemplars, in [0, 1].

    The exemplar model's probability, rescaled so that ``SEMANTIC_FLOOR`` and below is 0.
    """
    if embedding is None:
        return 0.0
    p = get_semantic_model().score(embedding)
    return max(0.0, (p - SEMANTIC_FLOOR) / (1.0 - SEMANTIC_FLOOR))


def _embed_turn(norm: str) -> np.ndarray:
    from .embeddings import embed

    return embed([norm])[0]


def complaint_shaped(norm: str) -> bool:
    """Aimed at the company, the bot or the situation, and not phrased as a polite request."""
    return bool(_COMPLAINT_TARGET.search(norm)) and not _POLITE.search(norm)


def text_cues(
    text: str,
    embedding: np.ndarray | None = None,
    previous_embeddings: Sequence[np.ndarray] = (),
    use_vader: bool = True,
    use_semantic: bool = True,
) -> TextCues:
    """Frustration cues of one turn.

    ``embedding`` is the turn's MiniLM embedding (of ``normalise(text)``), which the
    NLU already computed for intent: pass it so nothing is embedded twice. Without it
    the semantic cue embeds the turn itself (``use_semantic=False`` skips that and
    leaves ``semantic`` at 0). ``previous_embeddings`` score repetition.
    """
    norm = normalise(text)
    if not norm:
        return TextCues()
    if embedding is None and use_semantic:
        embedding = _embed_turn(norm)
    sarcasm = _count_score(_hits(SARCASM, norm, negatable=False))
    raw = text.strip()
    upper_words = [w for w in re.findall(r"[A-Za-z]{3,}", raw) if w.isupper()]
    shouted = len(upper_words) / max(1, len(re.findall(r"[A-Za-z]{3,}", raw)))
    emphasis = min(1.0, 0.35 * raw.count("!") + (shouted if raw != raw.upper() or len(upper_words) > 2 else 0.0)
                   + 0.2 * len(INTENSIFIERS.findall(norm)))
    neg = 0.0
    # VADER reads a bare "no" as negative, and a polite "unfortunately my card was stolen" too
    if use_vader and len(norm.split()) >= 3 and complaint_shaped(norm):
        compound = vader_compound(text)
        if compound <= STRONG_NEGATIVE:
            neg = min(1.0, (-compound - 0.3) / 0.6)  # -0.5 → 0.33, -0.9 → 1
    profanity_hits = _hits(PROFANITY, norm, negatable=False) + raw.count("***") + len(re.findall(r"\w\*+\w?", raw))
    return TextCues(
        explicit=_count_score(_hits(EXPLICIT, norm)),
        repeated_complaint=_count_score(_hits(REPEATED, norm, negatable=False)),
        sarcasm=sarcasm,
        profanity=_count_score(profanity_hits),
        human_demand=_count_score(_hits(HUMAN_DEMAND, norm)),
        waiting=_count_score(_hits(WAITING, norm)),
        negative_sentiment=round(neg, 4),
        emphasis=round(emphasis, 4),
        repetition=round(repetition_score(embedding, previous_embeddings), 4),
        semantic=round(semantic_frustration(embedding) if use_semantic else 0.0, 4),
    )
