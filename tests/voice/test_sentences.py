"""Sentence splitting and the fixed sentences cached at start-up (replies are spoken whole for
now: see voice/services.py)."""

from ivr.triage import fixed_prompts
from nlu.flows import Flows
from voice.sentences import speakable_chunks, split_sentences


def test_split_sentences():
    assert split_sentences("Sure. What's your order number?") == ["Sure.", "What's your order number?"]
    assert split_sentences("That's order 4 5 6. Is that right?") == ["That's order 4 5 6.", "Is that right?"]
    assert split_sentences("  Okay!  ") == ["Okay!"]
    assert split_sentences("") == []


def test_a_long_first_sentence_is_cut_at_its_first_clause():
    text = "We're open Monday to Friday, from eight in the morning to six in the evening. Anything else?"
    assert speakable_chunks(text) == ["We're open Monday to Friday,", "from eight in the morning to six in the evening.",
                                      "Anything else?"]
    assert speakable_chunks("Sure. What's your order number?") == ["Sure.", "What's your order number?"]
    # no comma to cut at, or a fragment too short to stand alone: as it is
    assert speakable_chunks("Your order has shipped and should arrive on Tuesday next week.") == [
        "Your order has shipped and should arrive on Tuesday next week."]
    assert speakable_chunks("Thanks, Anna. Your balance is 20 dollars.")[0] == "Thanks, Anna."


def test_fixed_sentences_of_templated_replies_are_cached():
    texts = set(fixed_prompts(Flows.load()).values())
    assert "Your order has shipped." in texts  # from "Your order has shipped. The {item} should arrive by {eta}."
    assert "Sure. What's your order number?" in texts  # a flow's fixed reply, whole
    assert not any("{" in t for t in texts)
