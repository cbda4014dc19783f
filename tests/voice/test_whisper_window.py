"""Which fitted-window reading of Whisper's is kept, read again, or handed to the full window."""

import pytest

from voice.whisper_window import (Reading, choose, lacks_only_its_stop, repeats_itself, verdict,
                                  without_restart)


def reading(text: str, nsp: float = 0.05, logprob: float = -0.3, tokens: int = 8, budget: int = 40,
            ratio: float = 1.2) -> Reading:
    return Reading(text, nsp, logprob, tokens, budget, ratio)


class Reader:
    """Stands in for the model: a reading per window length, and a log of what was read."""

    def __init__(self, by_window: dict[float, Reading]):
        self.by_window, self.asked = by_window, []

    def __call__(self, window_s: float) -> Reading:
        self.asked.append(window_s)
        return self.by_window[window_s]


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


def test_verdict_keeps_a_plain_reading_and_names_what_is_wrong_with_others():
    assert verdict(reading("What time do you open on Saturday?")).text == "What time do you open on Saturday?"
    assert verdict(reading("you", nsp=0.55)).why == "no speech?"
    assert verdict(reading("Thank you.", nsp=0.7, logprob=-1.4)).text == ""  # silence: dropped as the full window would
    assert verdict(reading("7 of clubs 7 of clubs")).why == "repeats"
    assert verdict(reading("la la la", ratio=2.6)).why == "repeats"
    assert verdict(reading("and then I went to the", tokens=40, budget=40)).why == "runaway"
    assert verdict(reading("Glorp flim.", logprob=-1.3)).why == "improbable"
    restarted = verdict(reading("I'd like to change my address. I'd like to change my address. I'd"))
    assert restarted.text == "I'd like to change my address." and restarted.why == ""


@pytest.mark.parametrize("text, expected", [
    ("Hi, I need to check on an order I place last week", True),
    ("Seven of clubs", True),
    ("Hi, I need to check on an order I placed last week.", False),  # it has its stop
    ("my order number is", False),  # unfinished with or without one
    ("and then", False),
    ("", False),
])
def test_only_a_reading_missing_just_its_stop_is_worth_a_second_look(text, expected):
    assert lacks_only_its_stop(text) is expected


def test_a_good_first_reading_is_the_only_one():
    read = Reader({10.0: reading("What time do you open on Saturday?")})
    c = choose(read, 10.0, 15.0, audio_s=2.0)
    assert (c.text, c.window, read.asked) == ("What time do you open on Saturday?", "fitted", [10.0])


def test_a_repetition_in_the_padding_is_read_again_in_the_longer_window():
    read = Reader({10.0: reading("10 of clubs 10 of clubs 10 of clubs"), 15.0: reading("10 of clubs.")})
    c = choose(read, 10.0, 15.0, audio_s=1.4)
    assert (c.text, c.window, read.asked) == ("10 of clubs.", "fitted 15 s (repeats)", [10.0, 15.0])


def test_a_missing_stop_is_looked_for_in_the_longer_window():
    read = Reader({10.0: reading("Hi, I need to check on an order I place last week"),
                   15.0: reading("Hi, I need to check on an order I placed last week.")})
    c = choose(read, 10.0, 15.0, audio_s=3.1)
    assert c.text == "Hi, I need to check on an order I placed last week."
    assert c.window == "fitted 15 s (no stop)"


def test_a_missing_stop_keeps_the_first_reading_when_the_second_is_worse():
    read = Reader({10.0: reading("Seven of clubs"), 15.0: reading("Seven of clubs seven of clubs")})
    c = choose(read, 10.0, 15.0, audio_s=1.6)
    assert (c.text, c.window) == ("Seven of clubs", "fitted")


def test_an_unfinished_reading_is_not_read_twice():
    read = Reader({10.0: reading("my order number is")})
    assert choose(read, 10.0, 15.0, audio_s=1.5).text == "my order number is" and read.asked == [10.0]


def test_the_same_repetition_in_both_windows_is_what_the_caller_said():
    read = Reader({10.0: reading("7, 7, 7"), 15.0: reading("7, 7, 7")})
    c = choose(read, 10.0, 15.0, audio_s=1.8)
    assert c.text == "7, 7, 7" and c.window == "fitted 15 s (same repetition twice)"


def test_a_runaway_repeated_in_both_windows_goes_to_the_full_window():
    yeahs = "yeah " * 15
    read = Reader({10.0: reading(yeahs), 15.0: reading(yeahs)})
    c = choose(read, 10.0, 15.0, audio_s=1.5)  # 15 words in 1.5 s: nobody talks that fast
    assert c.text is None and c.window == "standard (repeats, repeats)"


def test_two_different_failures_go_to_the_full_window():
    read = Reader({10.0: reading("9 9 9 9"), 15.0: reading("you", nsp=0.55)})
    c = choose(read, 10.0, 15.0, audio_s=1.5)
    assert c.text is None and c.window == "standard (repeats, no speech?)"


def test_without_a_retry_window_a_bad_reading_goes_straight_to_the_full_window():
    read = Reader({8.0: reading("7 of clubs 7 of clubs"), 15.0: reading("7 of clubs.")})
    c = choose(read, 8.0, 0.0, audio_s=1.6)
    assert (c.text, c.window, read.asked) == (None, "standard (repeats)", [8.0])
    read = Reader({8.0: reading("Seven of clubs")})
    assert choose(read, 8.0, 0.0, audio_s=1.6).text == "Seven of clubs" and read.asked == [8.0]
