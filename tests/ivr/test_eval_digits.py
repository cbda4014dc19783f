"""`ivr eval digits`'s scoring on hand-made readings (the model runs are its own e2e)."""

from __future__ import annotations

from calls.expectation import Expectation
from ivr.tools.eval_digits import Evidence, final_text, report, score

ORDER = Expectation("order_number", digits=(5,), keypad=True)


def ev(said, heard, free_lp, digits, digits_lp, split="tune", i=[0]):
    i[0] += 1
    return Evidence(f"{split}/{i[0]}", split, "espeak-gb", said, ORDER, heard, free_lp, digits, digits_lp)


MISHEARD = ev("six oh | seven eight nine.", "Big soul hammering, eight times.", -0.9, "6 0 7 8 9.", -0.7)
WORDS = ev("I don't have it with me.", "I don't have it with me.", -0.05, "1 1 1 1 1.", -1.3)
HEARD = ev("Four five | six seven | eight.", "4 5 6 7 8.", -0.3, "4 5 6 7 8.", -0.3)


def test_the_digits_replace_a_misheard_number_and_never_words():
    assert final_text(MISHEARD, None) == MISHEARD.heard  # before: as heard
    assert final_text(MISHEARD, 0.5) == "6 0 7 8 9."
    assert final_text(WORDS, 0.5) == WORDS.heard  # forcing digits cost 1.25 nats a token
    assert final_text(WORDS, 2.0) == "1 1 1 1 1."  # a margin that lax would act on words
    assert final_text(HEARD, 0.5) == HEARD.heard  # complete already: not read again


def test_scores_count_digits_right_and_other_answers_replaced():
    before, after, lax = (score([MISHEARD, WORDS, HEARD], m) for m in (None, 0.5, 2.0))
    assert (before["digits_right"], before["numbers"], before["others_replaced"]) == (1, 2, 0)
    assert (after["digits_right"], after["others_replaced"]) == (2, 0)
    assert lax["others_replaced"] == 1 and lax["replaced"] == [WORDS.id]


def test_the_report_keeps_the_halves_apart_and_lists_what_is_still_wrong():
    held = ev("nine eight seven six five.", "Nine, eight, seven, six, flies.", -0.8, "9 8 7 6", -0.6, split="heldout")
    rep = report([MISHEARD, WORDS, HEARD, held])
    assert set(rep["splits"]) == {"tune", "heldout"}
    assert rep["splits"]["tune"]["wrong_at_shipped_margin"] == []
    assert [w["id"] for w in rep["splits"]["heldout"]["wrong_at_shipped_margin"]] == [held.id]
