"""Who the caller is (nlu/verification.py): PIN or date of birth before the balance, never a guess."""

from __future__ import annotations

import json

from nlu.dialog import TriageDialog
from nlu.turns import CallerTurn


def test_balance_after_pin(dialog, talk):
    dialog.start()
    r = talk(dialog, "how much do i owe", "two three four five six seven eight nine", "yes", "my pin is one one one one")
    assert r[3].text.startswith("Thanks, Bob.") and "Nothing is owed" in r[3].text
    assert dialog.verified


def test_balance_after_date_of_birth(dialog, talk):
    dialog.start()
    r = talk(dialog, "what's my balance", "twelve thirty four fifty six seventy eight", "that's right",
             "my date of birth is the fourth of july nineteen eighty five")
    assert "42 dollars and 50 cents" in r[3].text and "due on Thursday 3 December" in r[3].text
    assert r[3].state == "anything_else"


def test_balance_is_never_told_without_verification(dialog, talk):
    dialog.start()
    r = talk(dialog, "what's my balance", "one two three four five six seven eight", "yes",
             "one two three four", "nine nine nine nine")
    assert "doesn't match" in r[3].text and "dollars" not in r[3].text
    assert r[4].escalate == "verification_failed" and "dollars" not in r[4].text
    assert not dialog.verified


def test_known_caller_id_goes_straight_to_verification(backend, understanding, talk):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0103")
    d.start()
    r = talk(d, "what's my account balance", "two four six eight")
    assert r[0].state == "verify"
    assert "Carol" in r[1].text and "1299 dollars and 99 cents" in r[1].text


def test_a_keyed_pin_verifies_and_is_never_kept_in_clear(backend, understanding, talk):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0103")
    d.start()
    talk(d, "what's my account balance")
    r = d.on_turn(CallerTurn(text="2468", keypad=True))
    assert "Carol" in r.text and d.verified
    assert r.caller_text == "[keypad] [PIN]" and "2468" not in json.dumps(r.to_dict())
    assert d.steps[0].detail == "PIN (keypad)"
    assert "2468" not in json.dumps(d.summary().to_dict())


def test_a_spoken_pin_is_masked_in_the_transcript_and_the_entities(backend, understanding, talk):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0103")
    d.start()
    talk(d, "what's my account balance")
    (r,) = talk(d, "my pin is two four six eight")
    assert d.verified and r.caller_text == "my pin is [PIN]"
    assert "2468" not in json.dumps(r.to_dict()) and "2468" not in json.dumps(d.summary().to_dict())


def test_a_pin_of_the_wrong_length_is_never_tried_and_the_caller_is_asked_to_key_it(understanding, talk, more_records):
    be = more_records()
    d = TriageDialog(be, understanding=understanding, caller_id="+1 555 555 0102")  # Bob, PIN 1111
    d.start()
    talk(d, "what's my balance")
    (r,) = talk(d, "one one one one one")
    assert r.text == "Sorry, I need all four digits. Please key in your PIN, then press hash."
    assert r.state == "verify" and be.verifies == 0 and d.attempts.get("verify", 0) == 0
    assert "11111" not in json.dumps(r.to_dict()) and not any(s.action == "verify" for s in d.steps)
    r = d.on_turn(CallerTurn(text="1111", keypad=True))
    assert d.verified and "Bob" in r.text and be.verifies == 1


def test_a_pin_said_in_two_groups_is_one_pin(backend, understanding, talk):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0103")
    d.start()
    talk(d, "what's my balance")
    (r,) = talk(d, "two four, six eight")
    assert d.verified and "Carol" in r.text


def test_a_pin_wrong_length_twice_offers_a_person_without_a_failed_verification(backend, understanding, talk):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0102")
    d.start()
    r = talk(d, "what's my balance", "one one one one one", "one one one")
    assert r[2].state == "offer_human" and "person" in r[2].text and not r[2].escalate
    assert d.attempts.get("verify", 0) == 0
