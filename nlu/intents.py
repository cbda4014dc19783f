"""Intent classification over sentence embeddings.

A multinomial logistic regression is fitted at start-up from the labelled
examples in ``data/intents.yaml`` (a few hundred sentences: about a second).
Its softmax is temperature-scaled on out-of-fold predictions so the
confidence means what it says, and a turn whose calibrated confidence is
below a threshold becomes ``out_of_scope`` even if no out-of-scope example
resembles it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import yaml

from .textnorm import normalise

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_INTENTS_PATH = DATA_DIR / "intents.yaml"
OUT_OF_SCOPE = "out_of_scope"

EmbedFn = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class IntentSet:
    """Labelled examples: parallel lists of texts and labels, plus descriptions."""

    texts: list[str]
    labels: list[str]
    descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        return sorted(set(self.labels))

    def subset(self, idx: Sequence[int]) -> "IntentSet":
        return IntentSet([self.texts[i] for i in idx], [self.labels[i] for i in idx], self.descriptions)


def load_intent_set(path: Path | str = DEFAULT_INTENTS_PATH) -> IntentSet:
    """Parse an intents YAML file (``intents: {name: {examples: [...]}}``)."""
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    texts: list[str] = []
    labels: list[str] = []
    desc: dict[str, str] = {}
    for name, spec in (doc.get("intents") or {}).items():
        name = str(name)
        desc[name] = str(spec.get("description", ""))
        for ex in spec.get("examples") or []:
            texts.append(str(ex))
            labels.append(name)
    if not texts:
        raise ValueError(f"{path}: no intent examples")
    return IntentSet(texts, labels, desc)


@dataclass(frozen=True)
class IntentResult:
    """The classifier's decision for one utterance."""

    intent: str
    confidence: float
    scores: dict[str, float]
    top_intent: str  # best in-scope label before the out-of-scope threshold

    def prob(self, intent: str) -> float:
        return self.scores.get(intent, 0.0)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood of held-out logits."""
    best_t, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.05), np.log(20.0), 200)):
        p = _softmax(logits / t)
        nll = -float(np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


@dataclass(frozen=True)
class FittedIntents:
    """What a fit produces: enough to classify without refitting (the start-up cache keeps it)."""

    classes: tuple[str, ...]
    weights: np.ndarray  # (classes, embedding dim), float32
    bias: np.ndarray  # (classes,), float32
    temperature: float


class IntentClassifier:
    """Logistic regression on embeddings with temperature-calibrated confidence."""

    def __init__(
        self,
        embed_fn: EmbedFn | None = None,
        threshold: float = 0.30,
        c: float = 10.0,
        calibration_folds: int = 4,
        seed: int = 0,
    ) -> None:
        self._embed = embed_fn
        self.threshold = threshold
        self.c = c
        self.folds = calibration_folds
        self.seed = seed
        self.classes_: list[str] = []
        self.temperature = 1.0
        self._w: np.ndarray | None = None
        self._b: np.ndarray | None = None

    def _embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if self._embed is None:
            from .embeddings import embed

            self._embed = embed
        return self._embed([normalise(t) for t in texts])

    def _new_lr(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.c, max_iter=2000)

    def fit(self, data: IntentSet, x: np.ndarray | None = None) -> "IntentClassifier":
        """Fit on labelled examples (``x``: their embeddings, if already computed)."""
        from sklearn.model_selection import StratifiedKFold

        x = self._embed_texts(data.texts) if x is None else x
        self.classes_ = data.intents
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index[l] for l in data.labels])
        # Out-of-fold logits on the training data calibrate the temperature.
        oof = np.zeros((len(y), len(self.classes_)))
        skf = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
        for tr, te in skf.split(x, y):
            lr = self._new_lr().fit(x[tr], y[tr])
            oof[te] = lr.decision_function(x[te])
        self.temperature = fit_temperature(oof, y)
        lr = self._new_lr().fit(x, y)
        self._w, self._b = lr.coef_.astype(np.float32), lr.intercept_.astype(np.float32)
        return self

    def fitted(self) -> FittedIntents:
        if self._w is None:
            raise RuntimeError("classifier is not fitted")
        return FittedIntents(tuple(self.classes_), self._w, self._b, float(self.temperature))

    @classmethod
    def from_fitted(cls, fitted: FittedIntents, embed_fn: EmbedFn | None = None, **kwargs) -> "IntentClassifier":
        """A classifier restored from an earlier fit (``kwargs``: the constructor's settings)."""
        clf = cls(embed_fn, **kwargs)
        clf.classes_ = list(fitted.classes)
        clf._w = np.asarray(fitted.weights, dtype=np.float32)
        clf._b = np.asarray(fitted.bias, dtype=np.float32)
        clf.temperature = float(fitted.temperature)
        return clf

    def predict_proba_x(self, x: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities for embeddings ``x``."""
        if self._w is None:
            raise RuntimeError("classifier is not fitted")
        return _softmax((x @ self._w.T + self._b) / self.temperature)

    def _result(self, p: np.ndarray) -> IntentResult:
        scores = {c: float(p[i]) for i, c in enumerate(self.classes_)}
        top = max(scores, key=scores.__getitem__)
        conf = scores[top]
        intent = top if conf >= self.threshold else OUT_OF_SCOPE
        return IntentResult(intent, conf, scores, top)

    def classify_many(self, texts: Sequence[str]) -> list[IntentResult]:
        p = self.predict_proba_x(self._embed_texts(texts))
        return [self._result(row) for row in p]

    def classify_x(self, x: np.ndarray) -> IntentResult:
        return self._result(self.predict_proba_x(x[None, :])[0])

    def classify(self, text: str) -> IntentResult:
        return self.classify_many([text])[0]


def stratified_split(data: IntentSet, test_fraction: float, seed: int) -> tuple[IntentSet, IntentSet]:
    """A reproducible stratified train/test split of the labelled set."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(data.texts))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=data.labels)
    return data.subset(sorted(tr)), data.subset(sorted(te))


_lock = threading.Lock()
_shared: IntentClassifier | None = None


def get_classifier() -> IntentClassifier:
    """The process-wide classifier fitted on the bundled examples (lazy, thread-safe)."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = IntentClassifier().fit(load_intent_set())
    return _shared


def install_classifier(classifier: IntentClassifier) -> None:
    """Make ``classifier`` the process-wide one (the service restores it from its start-up cache)."""
    global _shared
    with _lock:
        _shared = classifier
