"""flows.yaml loads, validates, and fills reply templates."""

from __future__ import annotations

import copy

import pytest
import yaml

from nlu.flows import DEFAULT_FLOWS_PATH, Flows, fill, last_question
from nlu.intents import load_intent_set


@pytest.fixture(scope="module")
def doc():
    return yaml.safe_load(DEFAULT_FLOWS_PATH.read_text())


def test_bundled_flows_load():
    f = Flows.load()
    assert f.settings.company == "Acme"
    assert f.intents["order_status"].flow == "order_status"
    assert f.intents["fraud_stolen_card"].flow == "handoff"


def test_every_routed_intent_exists_in_the_labelled_set():
    known = set(load_intent_set().intents)
    assert set(Flows.load().intents) <= known


def test_first_sentences_are_short():
    """TTS speaks the first sentence first: keep it to a few words."""
    f = Flows.load()
    texts = list(f.prompts.values())
    for flow in f.flows.values():
        for v in flow.values():
            texts += list(v.values()) if isinstance(v, dict) else [v]
    for t in texts:
        first = t.split(". ")[0].split("? ")[0]
        if t.startswith("{") or not first:
            continue
        assert len(first.split()) <= 8, t


def test_say_fills_and_keeps_unknown_placeholders():
    f = Flows.load()
    assert f.say("greeting").startswith("Hi, thanks for calling Acme.")
    assert "4 5 6" in f.say("order_status.confirm_order", order_digits="4 5 6")
    assert fill("a {x} b {y}", x=1) == "a 1 b {y}"


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda d: d["settings"].update(bogus=1), "unknown settings"),
        (lambda d: d["prompts"].pop("greeting"), "prompts missing"),
        (lambda d: d["intents"]["refund"].update(flow="teleport"), "not one of"),
        (lambda d: d["intents"]["complaint"].pop("say"), "needs 'say'"),
        (lambda d: d["flows"].pop("faq"), "flows.faq is missing"),
        (lambda d: d["settings"].update(no_input_action="shrug"), "no_input_action"),
    ],
)
def test_validation_names_the_problem(doc, mutate, match):
    bad = copy.deepcopy(doc)
    mutate(bad)
    with pytest.raises(ValueError, match=match):
        Flows.from_dict(bad)


def test_last_question():
    assert last_question("Done. Is there anything else?") == "Is there anything else?"
    assert last_question("Goodbye.") == "Goodbye."
