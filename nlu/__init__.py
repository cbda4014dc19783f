"""nlu: text and turn understanding for the triage IVR.

Intents, entities, text frustration cues, the fusion of prosody and text into
a frustration score, the bot-first triage dialog and the hand-off summary.
Names resolve lazily so ``import nlu`` stays cheap (no model, no sklearn).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Understanding": "nlu.understanding",
    "Analysis": "nlu.understanding",
    "warm_up": "nlu.understanding",
    "TriageDialog": "nlu.dialog",
    "CallerTurn": "nlu.dialog",
    "BotReply": "nlu.dialog",
    "Backend": "nlu.backend",
    "SQLiteBackend": "nlu.backend",
    "open_demo_backend": "nlu.backend",
    "Flows": "nlu.flows",
    "HandoffSummary": "nlu.summary",
    "IntentClassifier": "nlu.intents",
    "IntentResult": "nlu.intents",
    "get_classifier": "nlu.intents",
    "Embedder": "nlu.embeddings",
    "get_embedder": "nlu.embeddings",
    "embed": "nlu.embeddings",
    "Entities": "nlu.entities",
    "extract_entities": "nlu.entities",
    "redact": "nlu.redact",
    "TextCues": "nlu.frustration_text",
    "text_cues": "nlu.frustration_text",
    "FrustrationWeights": "nlu.fusion",
    "DialogueSignals": "nlu.fusion",
    "Trajectory": "nlu.fusion",
    "LabelledTurn": "nlu.fusion",
    "fit_weights": "nlu.fusion",
    "turn_features": "nlu.fusion",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .backend import Backend, SQLiteBackend, open_demo_backend
    from .dialog import BotReply, CallerTurn, TriageDialog
    from .embeddings import Embedder, embed, get_embedder
    from .entities import Entities, extract_entities
    from .flows import Flows
    from .frustration_text import TextCues, text_cues
    from .fusion import DialogueSignals, FrustrationWeights, LabelledTurn, Trajectory, fit_weights, turn_features
    from .intents import IntentClassifier, IntentResult, get_classifier
    from .redact import redact
    from .summary import HandoffSummary
    from .understanding import Analysis, Understanding, warm_up


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nlu' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
