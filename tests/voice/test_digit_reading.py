"""A number answer read again with only digits allowed: when to try it and when to believe it."""

from __future__ import annotations

import pytest

from calls.expectation import Expectation
from voice.digit_reading import MARGIN, believe_digits, digits_only, worth_reading_for_digits

ORDER = Expectation("order_number", digits=(5,), keypad=True)
PIN = Expectation("pin", digits=(4,), keypad=True)


@pytest.mark.parametrize("text, worth", [
    ("Big soul hammering, eight times.", True),  # "six oh seven eight nine" on an espeak voice
    ("Or, I understand when it, I know one.", True),
    ("I don't have it with me.", True),  # tried; the likelihood test refuses it
    ("4 5 6 7 8.", False),  # already the whole number
    ("4 5", False),  # part-way through reading it: turn-taking waits for the rest
    ("Sorry, where do I find that?", False),  # a question is answered, not read for digits
])
def test_a_number_answer_that_does_not_hold_the_number_is_worth_a_second_reading(text, worth):
    assert worth_reading_for_digits(text, ORDER) is worth


def test_nothing_is_read_again_when_no_number_is_expected():
    assert not worth_reading_for_digits("Big soul hammering.", None)
    assert not worth_reading_for_digits("Big soul hammering.", Expectation("yes_no"))


def test_a_digits_only_reading_writes_digits_and_punctuation_only():
    assert all(digits_only(t) for t in (" 4", "55", ",", ".", " 0", "-"))
    assert not any(digits_only(t) for t in (" four", "oh", " O", "", " 4th", "?", "...", " 4."))


def test_the_digits_are_believed_when_complete_and_about_as_likely_as_the_free_reading():
    assert believe_digits(-0.9, " 6 0 7 8 9.", -0.7, ORDER) == "6 0 7 8 9."
    assert believe_digits(-0.9, "6 0 7 8 9", -0.9 - MARGIN + 0.01, ORDER) == "6 0 7 8 9"


@pytest.mark.parametrize("free_lp, digits, digits_lp, why", [
    (-0.2, "4 5 6 7 8", -1.5, "words Whisper was sure of, digits it had to force"),
    (-0.9, "6 0 7 8", -0.6, "four digits are not an order number"),
    (-0.9, "6 0 7 8 9 1", -0.6, "nor are six"),
])
def test_the_digits_are_not_believed_otherwise(free_lp, digits, digits_lp, why):
    assert believe_digits(free_lp, digits, digits_lp, ORDER) is None, why


def test_a_pin_needs_its_own_count():
    assert believe_digits(-0.8, "1 1 1 1", -0.8, PIN) == "1 1 1 1"
    assert believe_digits(-0.8, "111 111", -0.8, PIN) is None  # the failure the issue names: 6 for 4
    assert believe_digits(-0.8, "1 1 1 1", -0.8, None) is None
