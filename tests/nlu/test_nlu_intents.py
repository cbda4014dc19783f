"""Intent classifier: the labelled set, held-out accuracy, calibration, out-of-scope."""

from __future__ import annotations

import numpy as np
import pytest

from nlu.intents import IntentClassifier, fit_temperature, load_intent_set, stratified_split

EXPECTED = {
    "order_status", "password_reset", "account_balance", "billing_dispute", "refund", "cancel_service",
    "technical_problem", "opening_hours", "fraud_stolen_card", "complaint", "speak_to_human",
    "yes", "no", "repeat", "goodbye", "out_of_scope",
}
# Measured 2026-11-21: 0.925 (111/120) on this split (seed 42, stratified 25 %); the
# bound leaves room for a few examples' change, not for a broken classifier.
HELD_OUT_BOUND = 0.88


def test_labelled_set_covers_every_intent_with_25_examples():
    data = load_intent_set()
    counts = {i: data.labels.count(i) for i in data.intents}
    assert set(counts) == EXPECTED
    assert min(counts.values()) >= 25
    assert len(set(data.texts)) == len(data.texts), "duplicate examples"


@pytest.fixture(scope="module")
def split_model():
    data = load_intent_set()
    train, test = stratified_split(data, 0.25, seed=42)
    return IntentClassifier().fit(train), test


def test_held_out_accuracy(split_model):
    clf, test = split_model
    results = clf.classify_many(test.texts)
    acc = np.mean([r.intent == label for r, label in zip(results, test.labels)])
    assert acc >= HELD_OUT_BOUND, acc


def test_confidence_is_calibrated_on_held_out(split_model):
    clf, test = split_model
    results = clf.classify_many(test.texts)
    conf = np.mean([r.confidence for r in results])
    acc = np.mean([r.top_intent == label for r, label in zip(results, test.labels)])
    assert abs(conf - acc) < 0.08, (conf, acc)


def test_split_is_stratified_and_disjoint():
    data = load_intent_set()
    train, test = stratified_split(data, 0.25, seed=42)
    assert not set(train.texts) & set(test.texts)
    assert set(test.labels) == EXPECTED


@pytest.mark.parametrize(
    "text,intent",
    [
        ("uh where is my parcel it was meant to come on friday", "order_status"),
        ("i can't remember my pass word for the website", "password_reset"),
        ("how much money do i owe you right now", "account_balance"),
        ("someone stole my credit card", "fraud_stolen_card"),
        ("i'd like to talk to an actual person", "speak_to_human"),
        ("what time do you open on monday", "opening_hours"),
        ("my broadband keeps dropping out", "technical_problem"),
        ("yes that's right", "yes"),
        ("sorry could you say that again", "repeat"),
    ],
)
def test_classifies_unseen_phrasings(classifier, text, intent):
    assert classifier.classify(text).intent == intent


def test_low_confidence_becomes_out_of_scope(classifier):
    r = classifier.classify("purple monkey dishwasher")
    assert r.intent == "out_of_scope" or r.top_intent == "out_of_scope"
    strict = IntentClassifier(threshold=1.01)
    strict.classes_, strict.temperature = classifier.classes_, classifier.temperature
    strict._w, strict._b = classifier._w, classifier._b
    assert strict.classify("where is my order").intent == "out_of_scope"


def test_scores_are_a_distribution(classifier):
    r = classifier.classify("i want a refund")
    assert abs(sum(r.scores.values()) - 1.0) < 1e-4
    assert r.confidence == max(r.scores.values())


def test_fit_temperature_sharpens_underconfident_logits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(0, 0.1, (300, 3))
    logits[np.arange(300), y] += 0.5  # right but timid
    assert fit_temperature(logits, y) < 1.0
