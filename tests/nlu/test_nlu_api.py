"""The public API: cheap to import, names resolve lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nlu
from nlu.textnorm import normalise


def test_import_nlu_loads_no_models():
    code = "import sys, nlu; print(sorted(m for m in ('onnxruntime', 'sklearn', 'tokenizers', 'vaderSentiment') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_names_resolve():
    for name in nlu.__all__:
        assert getattr(nlu, name) is not None
    with pytest.raises(AttributeError):
        nlu.does_not_exist  # noqa: B018


@pytest.mark.parametrize(
    "raw,norm",
    [
        ("Um, where's my ORDER?", "where's my order"),
        ("uh huh", "uh huh"),
        ("uh", ""),
        ("john.smith@example.com.", "john.smith@example.com"),
        ("I’m locked out!!", "i'm locked out"),
    ],
)
def test_normalise(raw, norm):
    assert normalise(raw) == norm


@pytest.mark.parametrize("text,intent", [("Yes.", "yes"), ("yep", "yes"), ("No!", "no"), ("nope", "no"), ("oh yeah", "yes")])
def test_short_answers(understanding, text, intent):
    a = understanding.analyse(text)
    assert a.intent.intent == intent and a.intent.confidence >= 0.9


def test_analysis_bundle(understanding, today):
    a = understanding.analyse("this is ridiculous, my order four five six seven eight was due tomorrow")
    assert a.entities.order_number == "45678"
    assert a.entities.date.toordinal() == today.toordinal() + 1
    assert a.cues.explicit > 0 and a.embedding.shape == (384,)


def test_filler_only_turn_is_out_of_scope(understanding):
    a = understanding.analyse("uh")
    assert a.intent.intent == "out_of_scope" and a.embedding is None
