"""The complete-transcript check that lets a turn end at a short pause, and Whisper's repeat guard."""

import pytest

from voice.endpointing import soft_ending, transcript_complete
from voice.models import repeats_itself, without_restart


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


@pytest.mark.parametrize("text", [
    "hello hello hello",
    "Need the design. Need the design. Need the design.",
    "I didn't know you were there. Oh, I didn't know you",
    "4 queen of clothes 4 queen of clothes",
])
def test_degenerate_whisper_output_is_caught(text):
    assert repeats_itself(text)


@pytest.mark.parametrize("text", [
    "five five",
    "The order number is four five six seven eight.",
    "He turned sharply and faced Gregson across the table.",
    "I already restarted the router twice.",
])
def test_ordinary_transcripts_are_not_flagged(text):
    assert not repeats_itself(text)


@pytest.mark.parametrize("text, kept", [
    ("I'd like to change the address on my account. I'd like to change the address on my account. I'd",
     "I'd like to change the address on my account."),
    ("Can you help me? I lost my card. Can you help me? I", "Can you help me? I lost my card."),
    ("hello hello hello", None),  # not a restart of a whole sentence: the standard path decides
    ("Yes. Yes.", None),  # too short to tell from a caller saying it twice
    ("Need the design. Need the design. Need the design.", "Need the design."),
])
def test_a_restart_into_the_padding_is_cut_off(text, kept):
    assert without_restart(text) == kept


def test_soft_endings_are_finished_but_flagged():
    assert transcript_complete("I can't log in to my account.") and soft_ending("I can't log in to my account.")
    assert transcript_complete("I lost my card.") and soft_ending("I lost my card.")
    assert not soft_ending("I think I was charged twice this month.")
