"""One caller turn understood: intent, entities and text frustration cues.

This is the model edge of the NLU: it owns the embedder and the intent
classifier (both shared per process) and hands the dialog plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable, Sequence

import numpy as np

from .entities import Entities, extract_entities
from .frustration_text import TextCues, text_cues
from .intents import IntentClassifier, IntentResult, get_classifier
from .textnorm import normalise

# Bare confirmations are too short for an embedding to be sure of; a closed
# list settles them (the dialog asks many yes/no questions).
YES_WORDS = frozenset({
    "yes", "yeah", "yep", "yup", "yes please", "correct", "that's right", "that's correct", "right",
    "sure", "ok", "okay", "uh huh", "mm hmm", "mhm", "absolutely", "yes it is", "it is", "affirmative",
    "yes that's right", "yes that's correct", "of course", "please do", "go ahead",
})
NO_WORDS = frozenset({
    "no", "nope", "nah", "no thanks", "no thank you", "incorrect", "wrong", "that's wrong",
    "no it's not", "no it isn't", "it's not", "not right", "negative", "no that's wrong", "no no",
})


@dataclass(frozen=True)
class Analysis:
    """What the NLU made of one turn."""

    text: str
    intent: IntentResult
    entities: Entities
    cues: TextCues
    embedding: np.ndarray | None


class Understanding:
    """Turns text into an ``Analysis``; models load lazily on first use."""

    def __init__(
        self,
        classifier: IntentClassifier | None = None,
        embed_fn: Callable[[Sequence[str]], np.ndarray] | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._classifier = classifier
        self._embed = embed_fn
        self._today = today

    @property
    def classifier(self) -> IntentClassifier:
        if self._classifier is None:
            self._classifier = get_classifier()
        return self._classifier

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._embed is None:
            from .embeddings import embed

            self._embed = embed
        return self._embed(list(texts))

    def today(self) -> date:
        return self._today()

    def prepare(self, text: str) -> None:
        """Embed `text` now, off the event loop, so `analyse` of the same text finds it done:
        called with the transcript of a pause that may end the turn."""
        norm = normalise(text)
        if norm:
            self.embed([norm])

    def analyse(self, text: str, previous_embeddings: Sequence[np.ndarray] = ()) -> Analysis:
        """Intent, entities and cues of ``text``; repetition is scored against earlier turns."""
        norm = normalise(text)
        emb = self.embed([norm])[0] if norm else None
        if emb is not None:
            intent = self.classifier.classify_x(emb)
        else:
            intent = IntentResult("out_of_scope", 0.0, {}, "out_of_scope")
        short = _short_answer(norm)
        if short:
            scores = dict(intent.scores)
            scores[short] = max(scores.get(short, 0.0), 0.99)
            intent = IntentResult(short, 0.99, scores, short)
        return Analysis(
            text=text,
            intent=intent,
            entities=extract_entities(text, self._today()),
            cues=text_cues(text, emb, previous_embeddings),
            embedding=emb,
        )


def _short_answer(norm: str) -> str | None:
    for prefix in ("", "oh ", "well "):
        t = norm[len(prefix):] if prefix and norm.startswith(prefix) else norm
        if t in YES_WORDS:
            return "yes"
        if t in NO_WORDS:
            return "no"
    return None


def warm_up() -> None:
    """Load the shared models now (at service start) rather than on the first call."""
    from .frustration_text import vader_compound

    Understanding().analyse("where is my order")
    vader_compound("warm up")
