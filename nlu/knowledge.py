"""Knowledge-base search for agent assist, and the bot's knowledge base kept live.

`KnowledgeIndex` ranks articles by the cosine of a text's MiniLM embedding against each article's
question and answer. It embeds with `nlu.embeddings.embed`, the process-wide model the intent
classifier already loaded, so assist costs no second copy (~23 MB) and no second warm-up. The
articles' vectors are recomputed only when an article's text changes (an edit in the panel).

`LiveKnowledgeBackend` is the company `Backend` with its knowledge base read from a function
(the store's versioned articles), so the bot's next FAQ answer is the edited one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .backend import KbEntry
from .textnorm import normalise

EmbedFn = Callable[[Sequence[str]], np.ndarray]
MIN_SCORE = 0.25  # below this cosine an article is not about what was said (measured on the demo KB)
MAX_QUERY = 500


@dataclass(frozen=True)
class Suggestion:
    """One article for a text, with how near it is (cosine, -1..1)."""

    key: str
    question: str
    answer: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "question": self.question, "answer": self.answer, "score": round(self.score, 3)}


def article_text(entry: KbEntry) -> str:
    """What an article is matched on: the question a caller asks, then its answer."""
    return f"{entry.question} {entry.answer}"


def rank(query_vec: np.ndarray, vectors: np.ndarray, entries: Sequence[KbEntry], k: int,
         min_score: float) -> list[Suggestion]:
    """The `k` nearest articles at or above `min_score`, nearest first (a pure function)."""
    if not len(entries):
        return []
    sims = vectors @ query_vec
    order = np.argsort(-sims, kind="stable")[: max(0, k)]
    return [Suggestion(entries[i].key, entries[i].question, entries[i].answer, float(sims[i]))
            for i in order if float(sims[i]) >= min_score]


class KnowledgeIndex:
    """Search over the articles `source()` returns (read at each search: an edit counts at once)."""

    def __init__(self, source: Callable[[], Sequence[KbEntry]], embed: EmbedFn | None = None):
        self._source = source
        self._embed = embed
        self._lock = threading.Lock()
        self._built: tuple[tuple[str, ...], list[KbEntry], np.ndarray] | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._embed is None:
            from .embeddings import embed  # the NLU's shared model, loaded once per process

            self._embed = embed
        return self._embed(list(texts))

    def _vectors(self) -> tuple[list[KbEntry], np.ndarray]:
        entries = list(self._source())
        texts = tuple(normalise(article_text(e)) for e in entries)
        with self._lock:
            if self._built is None or self._built[0] != texts:
                vecs = self.embed(texts) if texts else np.zeros((0, 384), np.float32)
                self._built = (texts, entries, np.asarray(vecs, np.float32))
            return self._built[1], self._built[2]

    def search(self, query: str, k: int = 3, min_score: float = MIN_SCORE) -> list[Suggestion]:
        """The articles nearest `query`, best first; none for an empty query."""
        query = " ".join(str(query or "").split())[:MAX_QUERY]
        if not query:
            return []
        entries, vectors = self._vectors()
        return rank(self.embed([normalise(query)])[0], vectors, entries, k, min_score)


class LiveKnowledgeBackend:
    """A `Backend` whose knowledge base is `source()` (the store's newest articles); the rest is `base`."""

    def __init__(self, base: Any, source: Callable[[], Sequence[KbEntry]]):
        self._base = base
        self._source = source

    def __getattr__(self, name: str) -> Any:  # anything else the company's backend offers (outbox, close)
        return getattr(self._base, name)

    def customer(self, account_id: str):
        return self._base.customer(account_id)

    def customer_by_phone(self, phone: str):
        return self._base.customer_by_phone(phone)

    def customer_by_email(self, email: str):
        return self._base.customer_by_email(email)

    def verify(self, account_id: str, pin: str | None = None, dob=None) -> bool:
        return self._base.verify(account_id, pin=pin, dob=dob)

    def order(self, order_number: str):
        return self._base.order(order_number)

    def send_password_reset(self, account_id: str) -> str | None:
        return self._base.send_password_reset(account_id)

    def kb_entries(self) -> list[KbEntry]:
        return list(self._source())

    def kb_entry(self, key: str) -> KbEntry | None:
        return next((e for e in self._source() if e.key == key), None)
