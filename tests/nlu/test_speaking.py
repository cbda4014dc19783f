"""Values as the bot says them (nlu/speaking.py): pure text for TTS."""

from __future__ import annotations

from datetime import date

from nlu.speaking import say_amount, say_date, say_digits, say_email


def test_speaking_helpers(today):
    assert say_digits("0812") == "0 8 1 2"
    assert say_amount(4250, "dollars") == "42 dollars and 50 cents"
    assert say_amount(1200, "pounds") == "12 pounds"
    assert say_date(today, today) == "today"


def test_dates_past_tomorrow_are_a_weekday_and_a_day_of_the_month(today):
    assert say_date(date(2026, 11, 22), today) == "tomorrow"
    assert say_date(date(2026, 11, 23), today) == "Monday 23 November"


def test_a_credit_is_minus_and_an_address_is_spelled_out():
    assert say_amount(-505, "dollars") == "minus 5 dollars and 5 cents"
    assert say_email("bob.smith@example.com") == "bob dot smith at example dot com"
    assert say_email("a_b-c@x.io") == "a underscore b dash c at x dot io"
