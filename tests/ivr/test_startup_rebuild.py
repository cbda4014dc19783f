"""The start-up steps over the real models and a small data set: a second start reads every entry
from the cache and writes nothing; a changed prompt text or intent example rebuilds that entry
and nothing else; what the cache gives back classifies and sounds like what was built."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from ivr.startup import StartupPlan, prepare
from calls.disk_cache import DiskCache
from nlu.fitted_cache import NluFiles

pytestmark = pytest.mark.e2e

INTENTS = {
    "order_status": ["where is my order", "has my parcel shipped", "track my delivery", "my package is late"],
    "password_reset": ["i forgot my password", "reset my password please", "i can't log in", "locked out of my account"],
    "opening_hours": ["when are you open", "what are your hours", "are you open on sunday", "what time do you close"],
    "goodbye": ["bye", "that's all thanks", "goodbye", "nothing else thank you"],
}
EXEMPLARS = {
    "frustrated": ["this is ridiculous", "i've called five times already", "nobody ever helps", "i'm fed up with this"],
    "calm": ["thanks that's great", "could you check my order", "i'd like to know your hours", "that's fine"],
}
PROMPTS = {"hold": "Please hold.", "bye": "Thank you for calling. Goodbye."}


@pytest.fixture
def files(tmp_path) -> NluFiles:
    intents = tmp_path / "intents.yaml"
    intents.write_text(yaml.safe_dump({"intents": {k: {"examples": v} for k, v in INTENTS.items()}}))
    exemplars = tmp_path / "exemplars.yaml"
    exemplars.write_text(yaml.safe_dump(EXEMPLARS))
    return NluFiles(intents, exemplars)


@pytest.fixture
def start(models, files, tmp_path, monkeypatch):
    """One start's preparation against the cache in tmp_path/cache; the process-wide classifiers
    it installs are put back afterwards (other tests use the bundled ones)."""
    from nlu import frustration_text, intents

    monkeypatch.setattr(intents, "_shared", intents._shared)
    monkeypatch.setattr(frustration_text, "_semantic", frustration_text._semantic)

    def run(prompts: dict[str, str] = PROMPTS) -> tuple[DiskCache, object]:
        cache = DiskCache(tmp_path / "cache")
        plan = StartupPlan(lambda: dict(prompts), nlu=True, warm_models=False, prosody=False, nlu_files=files)
        return cache, prepare(models, plan, cache)

    return run


def entries(root: Path) -> dict[str, tuple[int, int]]:
    """Every entry file with its inode and modification time: a rewrite changes them."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*.npz")}


def test_a_second_start_reads_everything_and_writes_nothing(start, tmp_path):
    cache, first = start()
    texts = first.prompts.texts()
    assert {e.name for e in cache.built("nlu")} == {"intents", "frustration exemplars"}
    assert sorted(e.name for e in cache.built("prompts")) == sorted(texts)
    before = entries(tmp_path / "cache")
    assert len(before) == 2 + len(texts)

    cache2, second = start()
    assert cache2.built() == [] and len(cache2.hits()) == len(before)
    assert entries(tmp_path / "cache") == before
    for t in texts:  # the audio given back is the audio that was synthesized
        assert np.array_equal(second.prompts.get(t, 8000), first.prompts.get(t, 8000))


def test_a_changed_prompt_text_rebuilds_that_prompt_only(start, tmp_path):
    start()
    before = entries(tmp_path / "cache")
    cache, prepared = start({**PROMPTS, "hold": "Please hold the line."})
    assert [e.name for e in cache.built()] == ["Please hold the line."]
    after = entries(tmp_path / "cache")
    assert set(before) < set(after) and len(after) == len(before) + 1
    assert all(after[k] == v for k, v in before.items())  # nothing else rewritten
    assert prepared.prompts.get("Please hold the line.", 8000).size > 4000  # real audio, ~0.5 s or more


def test_a_changed_intent_example_refits_the_intents_only(start, files, tmp_path):
    from nlu.intents import IntentClassifier, get_classifier, load_intent_set

    start()
    before = entries(tmp_path / "cache")
    doc = yaml.safe_load(files.intents.read_text())
    doc["intents"]["goodbye"]["examples"][0] = "see you later"
    files.intents.write_text(yaml.safe_dump(doc))
    cache, _ = start()
    assert [(e.kind, e.name) for e in cache.built()] == [("nlu", "intents")]
    after = entries(tmp_path / "cache")
    assert len(after) == len(before) + 1 and all(after[k] == v for k, v in before.items())
    # The installed classifier is the one fitted on the edited file, exactly as a fresh fit.
    fresh = IntentClassifier().fit(load_intent_set(files.intents))
    for text in ("see you later", "where is my order", "i forgot my password"):
        got, want = get_classifier().classify(text), fresh.classify(text)
        assert got.intent == want.intent and got.scores == pytest.approx(want.scores, abs=1e-6)


def test_the_cached_frustration_model_scores_as_a_fresh_fit(start, files):
    from nlu.embeddings import embed
    from nlu.frustration_text import SemanticFrustration, get_semantic_model

    start()
    start()  # this one reads the model from the cache
    fresh = SemanticFrustration(files.exemplars).fit()
    for text in ("this is a joke", "thank you very much"):
        e = embed([text])[0]
        assert get_semantic_model().score(e) == pytest.approx(fresh.score(e), abs=1e-6)
