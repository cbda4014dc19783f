"""The dialog's boundary types (nlu/turns.py): the turn as the transcript keeps it."""

from __future__ import annotations

import json

from nlu.turns import ASK_INTENT, BotReply, CallerTurn, as_recorded, keyed_digits


def test_a_keyed_entry_is_marked_and_a_secret_one_masked():
    keyed = CallerTurn(text="4 5#678", keypad=True)
    assert keyed_digits(keyed) == "45678"
    assert as_recorded(keyed, secret=False) == "[keypad] 45678"
    assert as_recorded(keyed, secret=True) == "[keypad] [PIN]"


def test_a_spoken_answer_to_the_pin_question_is_masked_only_then():
    said = CallerTurn(text="my pin is 2468")
    assert as_recorded(said, secret=False) == "my pin is 2468"
    assert "2468" not in as_recorded(said, secret=True)


def test_a_reply_serialises_with_its_defaults():
    d = BotReply(text="Hi.").to_dict()
    assert d["state"] == ASK_INTENT and d["accepted_intent"] is None and d["caller_text"] is None
    json.dumps(d)
