"""Card numbers never survive into transcripts or summaries."""

from __future__ import annotations

import pytest

from nlu.redact import CARD_MASK, luhn_valid, redact


@pytest.mark.parametrize(
    "text",
    [
        "my card is 4111111111111111",
        "my card is 4111 1111 1111 1111 thanks",
        "it's 4111-1111-1111-1111",
        "4111.1111.1111.1111",
        "card four one one one one one one one one one one one one one one one",
        "four one one one um one one one one one one one one one one one one",
        "forty one eleven eleven eleven eleven eleven eleven eleven",  # pairs
        "5555555555554444",  # Luhn valid
        "1234567890123",  # 13 digits, Luhn invalid: still redacted
        "1234567890123456789",  # 19 digits
        "double four triple one one one one one one one one one one",
    ],
)
def test_redacts_any_13_plus_digit_run(text):
    out = redact(text)
    assert CARD_MASK in out
    assert sum(ch.isdigit() for ch in out) < 13
    assert "one one one one" not in out


@pytest.mark.parametrize(
    "text",
    ["order four five six seven eight", "my account is 12345678", "call 555 0101", "i paid 42 dollars", "123456789012"],
)
def test_keeps_short_numbers(text):
    assert redact(text) == text


def test_keeps_surrounding_text():
    assert redact("card 4111 1111 1111 1111 expiry oh nine") == f"card {CARD_MASK} expiry oh nine"


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("41x1")


def test_redacting_a_structure_masks_card_numbers_and_keeps_scores():
    """A JSON line redacted as text read four scores as a 13-digit card and broke its JSON."""
    import json

    from nlu.redact import redact as flat, redact_deep

    doc = {"event": "summary", "frustration": [0.046, 0.508, 0.75, 0.9, 0.951], "call_id": "4111111111111111",
           "transcript": [{"text": "my card is 4111 1111 1111 1111"}], "card": 4111111111111111}
    assert "[card number]" in flat(json.dumps(doc["frustration"]))  # what went wrong
    out = redact_deep(doc, plain_keys=frozenset({"call_id"}))
    assert out["frustration"] == doc["frustration"] and out["call_id"] == doc["call_id"]
    assert out["transcript"][0]["text"] == "my card is [card number]" and out["card"] == "[card number]"
    assert json.loads(json.dumps(out)) == out
