"""The NLU's fitted classifiers from the start-up cache, fitted (and kept) only when their inputs
changed.

Fitting embeds a few hundred labelled lines with MiniLM and runs several logistic regressions
(12 s of a 2-core start); what it produces is a few small arrays. An entry stores those arrays
(weights, bias, classes, the calibration temperature) rather than a pickled scikit-learn
object, so reading one runs no code and needs no scikit-learn at all; its key covers the data
file's bytes, the embedding model's files, the fit's settings, the scikit-learn version and the
source of the code that fits, so any change to them fits again.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from calls.disk_cache import DiskCache, entry_key, file_digest, source_digest

KIND = "nlu"


def embedder_identity() -> dict[str, str]:
    """The MiniLM files and runtime that turn text into the vectors a classifier is fitted on."""
    from nlu.embeddings import Embedder, default_model_path, default_tokenizer_path
    from nlu.textnorm import normalise

    return {"model": file_digest(default_model_path()), "tokenizer": file_digest(default_tokenizer_path()),
            "onnxruntime": version("onnxruntime"), "code": source_digest(Embedder, normalise)}


@dataclass(frozen=True)
class NluFiles:
    """The labelled data the classifiers are fitted on (the bundled files unless a test says)."""

    intents: Path
    exemplars: Path

    @classmethod
    def bundled(cls) -> "NluFiles":
        from nlu.frustration_text import EXEMPLARS_PATH
        from nlu.intents import DEFAULT_INTENTS_PATH

        return cls(Path(DEFAULT_INTENTS_PATH), Path(EXEMPLARS_PATH))


def intents_key(path: Path, embedder: dict[str, str]) -> str:
    from nlu import intents

    clf = intents.IntentClassifier()
    return entry_key("intents", {
        "data": file_digest(path), "embedder": embedder, "c": clf.c, "folds": clf.folds, "seed": clf.seed,
        "sklearn": version("scikit-learn"),
        "code": source_digest(intents.load_intent_set, intents.fit_temperature, intents.IntentClassifier.fit,
                              intents.IntentClassifier._new_lr),
    })


def semantic_key(path: Path, embedder: dict[str, str]) -> str:
    from nlu import frustration_text as ft

    return entry_key("frustration_exemplars", {
        "data": file_digest(path), "embedder": embedder, "c": ft.SEMANTIC_C, "sklearn": version("scikit-learn"),
        "code": source_digest(ft.load_exemplars, ft.SemanticFrustration.data, ft.SemanticFrustration._fit),
    })


def load_intents(cache: DiskCache, path: Path, embedder: dict[str, str]):
    """The intent classifier fitted on ``path``: from the cache, or fitted and cached."""
    from nlu.intents import FittedIntents, IntentClassifier, load_intent_set

    def fit() -> dict[str, np.ndarray]:
        f = IntentClassifier().fit(load_intent_set(path)).fitted()
        return {"classes": np.array(f.classes), "weights": f.weights, "bias": f.bias,
                "temperature": np.float64(f.temperature)}

    a = cache.get_or_build(KIND, "intents", intents_key(path, embedder), fit)
    fitted = FittedIntents(tuple(str(c) for c in a["classes"]), a["weights"], a["bias"], float(a["temperature"]))
    return IntentClassifier.from_fitted(fitted)


def load_semantic(cache: DiskCache, path: Path, embedder: dict[str, str]):
    """The frustration exemplar model fitted on ``path``: from the cache, or fitted and cached."""
    from nlu.frustration_text import FittedSemantic, SemanticFrustration

    def fit() -> dict[str, np.ndarray]:
        f = SemanticFrustration(path).fitted()
        return {"coef": f.coef, "intercept": np.float64(f.intercept)}

    a = cache.get_or_build(KIND, "frustration exemplars", semantic_key(path, embedder), fit)
    return SemanticFrustration.from_fitted(FittedSemantic(a["coef"], float(a["intercept"])), path)


def prepare_nlu(cache: DiskCache, files: NluFiles) -> str:
    """Install both classifiers process-wide and run one turn through the NLU (loads MiniLM and
    VADER). Returns what was done, for the start-up log."""
    import nlu
    from nlu.embeddings import get_embedder
    from nlu.frustration_text import install_semantic_model
    from nlu.intents import install_classifier

    get_embedder()
    embedder = embedder_identity()
    before = len(cache.built(KIND))
    install_classifier(load_intents(cache, files.intents, embedder))
    install_semantic_model(load_semantic(cache, files.exemplars, embedder))
    nlu.warm_up()
    built = cache.built(KIND)[before:]
    if not built:
        return "classifiers from the cache"
    return ", ".join(f"{e.name} fitted in {e.seconds:.1f} s" for e in built)
