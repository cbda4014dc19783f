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
    # a clause that leaves its verb implied closes on "was", "is", "did"...
    "He might have been more respectable than he was.",
    "I don't know where it is.",
    "Yes, it is.",
    "Yes, I did.",
    "That's not what it was.",
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
    "I called yesterday and it was.",  # "it was" after "and": something follows
    "My order was.",
    "The thing is.",
    "What I want to know is.",
])
def test_unfinished_turns(text):
    assert not transcript_complete(text)


def test_soft_endings_are_finished_but_flagged():
    assert transcript_complete("I can't log in to my account.") and soft_ending("I can't log in to my account.")
    assert transcript_complete("I lost my card.") and soft_ending("I lost my card.")
    assert not soft_ending("I think I was charged twice this month.")
