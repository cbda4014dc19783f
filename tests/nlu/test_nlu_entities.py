"""Spoken numbers, identifiers, amounts, dates and e-mail addresses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from nlu.entities import Amount, amounts, extract_entities, identifiers, parse_date, spelled_email
from nlu.spoken_numbers import digit_runs, ordinal_value, tokenize, words_to_int

TODAY = date(2026, 11, 21)  # Saturday


@pytest.mark.parametrize(
    "text,digits",
    [
        ("four five six seven", ["4567"]),
        ("double seven triple two", ["77222"]),
        ("oh eight one two", ["0812"]),
        ("zero zero seven", ["007"]),
        ("twenty three forty five", ["2345"]),
        ("it's 12 34 56", ["123456"]),
        ("4111-1111-1111-1111", ["4111111111111111"]),
        ("one to three four", ["1234"]),  # ASR "to" for two, between digits
        ("four um five six", ["456"]),
        ("five hundred twenty", ["520"]),
        ("nineteen eighty five", ["1985"]),
        ("order one two three four and account is five five five", ["1234", "555"]),
        ("oh great", []),
        ("i want to go for a walk", []),
        ("double", []),
    ],
)
def test_digit_runs(text, digits):
    assert [r.digits for r in digit_runs(text)] == digits


def test_digit_run_span_points_at_the_words():
    text = "my order is four five six please"
    (run,) = digit_runs(text)
    assert text[run.start : run.end] == "four five six"


def test_tokenize_keeps_ordinals_whole():
    assert [t.text for t in tokenize("the 5th of May")] == ["the", "5th", "of", "may"]


@pytest.mark.parametrize(
    "words,value",
    [
        ("forty two", 42), ("a hundred and twenty three", 123), ("one thousand two hundred", 1200),
        ("twelve", 12), ("7", 7), ("three thousand and five", 3005), ("banana", None), ("", None),
    ],
)
def test_words_to_int(words, value):
    assert words_to_int(words.split()) == value


@pytest.mark.parametrize("words,value", [("third", (3, 1)), ("21st", (21, 1)), ("twenty first", (21, 2)), ("x", None)])
def test_ordinal_value(words, value):
    assert ordinal_value(words.split()) == value


@pytest.mark.parametrize(
    "text,kind,digits",
    [
        ("my order number is four five six seven eight", "order", "45678"),
        ("the account number is one two three four five six seven eight", "account", "12345678"),
        ("it's four five six seven eight", "number", "45678"),
        ("tracking reference double seven two two two", "order", "77222"),
    ],
)
def test_identifiers_are_labelled_by_cue(text, kind, digits):
    (ident,) = identifiers(text)
    assert (ident.kind, ident.digits) == (kind, digits)


def test_short_numbers_are_not_identifiers():
    assert identifiers("i have two kids") == []


@pytest.mark.parametrize(
    "text,value,currency",
    [
        ("forty two dollars fifty", "42.50", "USD"),
        ("forty two dollars and fifty cents", "42.50", "USD"),
        ("it was $42.50", "42.50", "USD"),
        ("$1,200", "1200.00", "USD"),
        ("a hundred and twenty euros", "120.00", "EUR"),
        ("twelve pounds", "12.00", "GBP"),
        ("£7.5", "7.50", "GBP"),
        ("fifty cents", "0.50", "USD"),
        ("one thousand two hundred dollars", "1200.00", "USD"),
        ("i paid 19.99 dollars", "19.99", "USD"),
        ("they charged me twenty bucks", "20.00", "USD"),
        ("twelve pounds and five pence", "12.05", "GBP"),
    ],
)
def test_amounts(text, value, currency):
    assert amounts(text)[0] == Amount(Decimal(value), currency)


def test_no_amount():
    assert amounts("where is my order") == []
    assert str(Amount(Decimal("42.5"), "USD")) == "42.50 USD"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("today", date(2026, 11, 21)),
        ("tomorrow", date(2026, 11, 22)),
        ("yesterday", date(2026, 11, 20)),
        ("next tuesday", date(2026, 11, 24)),
        ("on tuesday", date(2026, 11, 24)),
        ("next saturday", date(2026, 11, 28)),
        ("last friday", date(2026, 11, 20)),
        ("march third", date(2027, 3, 3)),
        ("march the 3rd", date(2027, 3, 3)),
        ("the third of march", date(2027, 3, 3)),
        ("december first", date(2026, 12, 1)),
        ("the 5th", date(2026, 12, 5)),
        ("the fifth", date(2026, 12, 5)),
        ("the 30th", date(2026, 11, 30)),
        ("fourth of july nineteen eighty five", date(1985, 7, 4)),
        ("born on the 12th of may 1990", date(1990, 5, 12)),
        ("on 3rd march 2026", date(2026, 3, 3)),
        ("june twenty first two thousand and one", date(2001, 6, 21)),
        ("january fifth twenty ten", date(2010, 1, 5)),
        ("2026-03-03", date(2026, 3, 3)),
        ("may i ask something", None),
        ("where is my order", None),
        ("february thirtieth", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text, TODAY) == expected


def test_parse_date_prefers_past_for_birthdays():
    assert parse_date("march third", TODAY, prefer_past=True) == date(2026, 3, 3)
    assert parse_date("tuesday", TODAY, prefer_past=True) == date(2026, 11, 17)


@pytest.mark.parametrize(
    "text,email",
    [
        ("john dot smith at example dot com", "john.smith@example.com"),
        ("my email is j o h n at gmail dot com", "john@gmail.com"),
        ("it is John.Smith@Example.com.", "john.smith@example.com"),
        ("send it to bob at example.com please", "bob@example.com"),
        ("jane underscore doe twenty three at mail dot co dot uk thanks", "jane_doe23@mail.co.uk"),
        ("a n n a double l at yahoo dot com", "annall@yahoo.com"),
        ("j o h n one two at example dot com", "john12@example.com"),
        ("mary dash ann at example dot org", "mary-ann@example.org"),
        ("alice at sign example dot net", "alice@example.net"),
        ("i am at home", None),
        ("look at this", None),
    ],
)
def test_spelled_email(text, email):
    assert spelled_email(text) == email


def test_extract_entities_together():
    e = extract_entities(
        "order number four five six seven eight and my email is bob at example dot com, i paid forty dollars on monday",
        TODAY,
    )
    assert e.order_number == "45678"
    assert e.email == "bob@example.com"
    assert e.amount == Amount(Decimal("40"), "USD")
    assert e.date == date(2026, 11, 23)
    d = e.to_dict()
    assert d["amount"] == "40.00 USD" and d["date"] == "2026-11-23"
    assert "account_id" not in d


# "oh" for zero written as "no" by Whisper (tune split, t-order-oh: "One, no, two. Three, four."
# for 10234 lost its "1 0" and was held as "2 3 4 so far"): a digit strictly inside a run only.
@pytest.mark.parametrize("text, runs", [
    ("One, no, two. Three, four.", ["10234"]),
    ("one no two three four", ["10234"]),
    ("No, 4 5 6 7 8", ["45678"]),  # at the edge it is the word: a read-back corrected
    ("4 5 6 7 8, no", ["45678"]),
    ("there is no two", ["2"]),
    ("no", []),
])
def test_no_between_digits_is_a_zero_and_only_there(text, runs):
    assert [r.digits for r in digit_runs(text)] == runs


def test_a_turn_that_is_only_a_number_keeps_its_inner_no_as_a_zero():
    from nlu.spoken_numbers import digits_only

    assert digits_only("One, no, two. Three, four.") == "10234"
    assert digits_only("No, 4 5 6 7 8") is None  # "no" is not a number word at the edge
