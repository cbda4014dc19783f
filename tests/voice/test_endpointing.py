"""The complete-transcript check that lets a turn end at a short pause."""

import pytest

from voice.endpointing import soft_ending, transcript_complete


@pytest.mark.parametrize("text", [
    "I need to check on an order I placed last week.",
    "What time do you open on Saturday?",
    "Yes.",
    "No, thanks.",
    "The order number is four five six seven eight.",
    "My account number is 12345678.",
    "It keeps saying my password is wrong!",
    "I'd like to change the address on my account.",
    "I lost my card.",
])
def test_finished_turns(text):
    assert transcript_complete(text)


@pytest.mark.parametrize("text", [
    "",
    "I need to check on an order and",
    "I need to check on an order, and...",
    "My order number is",
    "My order number is...",
    "I was charged twice, um.",
    "Can you tell me about the",
    "I'd like to change the address on my",
    "Hi.",
    "Hello, thank you.",
    "Sorry to interrupt.",  # an opener: the request follows
    "Oh, excuse me.",
    "So, well,",
    "My card number is 4321.",  # read in groups: more is coming
    "it was a pair of running shoes",  # Whisper punctuates what it hears as finished
])
def test_unfinished_turns(text):
    assert not transcript_complete(text)


def test_soft_endings_are_finished_but_flagged():
    assert transcript_complete("I can't log in to my account.") and soft_ending("I can't log in to my account.")
    assert transcript_complete("I lost my card.") and soft_ending("I lost my card.")
    assert not soft_ending("I think I was charged twice this month.")
