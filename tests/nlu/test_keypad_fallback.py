"""The keypad where the voice failed (nlu/keypad_fallback.py): the menu before a hand-over for
turns not understood, "use the keypad" before the offer of a person for a number, 1 and 2 for
yes and no."""

from __future__ import annotations

import pytest
import yaml

from calls.expectation import Expectation
from nlu.dialog import TriageDialog
from nlu.flows import DEFAULT_FLOWS_PATH, Flows
from nlu.turns import CallerTurn

NOT_UNDERSTOOD = ("zxq blorp fnarg", "purple telescope banana wednesday", "glorp the the the")


def keyed(key: str) -> CallerTurn:
    return CallerTurn(text=key, keypad=True)


def _menu(d, talk):
    d.start()
    r = talk(d, *NOT_UNDERSTOOD)[-1]
    assert r.escalate is None and r.state == "ask_intent"
    assert r.text.startswith("Sorry, I'm still not getting it. You can use your keypad instead.")
    return r


def test_the_menu_comes_once_instead_of_the_hand_over_and_names_each_key(dialog, talk):
    r = _menu(dialog, talk)
    assert r.text.endswith("Press 1 to check on an order, 2 to reset your password, 3 to hear your account "
                           "balance, or 4 to ask about our opening hours. For a person, press 0.")
    assert dialog.expecting() == Expectation("menu", keypad=True, choices="1234")
    (again,) = talk(dialog, "blorp")
    assert again.escalate == "no_match_limit"  # the menu is not offered twice


@pytest.mark.parametrize("key, intent, said", [("1", "order_status", "order number"), ("3", "account_balance", "account number")])
def test_a_key_of_the_menu_starts_its_request_at_full_confidence(dialog, talk, key, intent, said):
    _menu(dialog, talk)
    r = dialog.on_turn(keyed(key))
    assert r.state == "collect" and said in r.text and r.accepted_intent == intent
    assert dialog.no_match == 0 and dialog.expecting().slot in ("order_number", "account_id")
    assert {"speaker": "caller", "text": f"[keypad] {key}"} in dialog.summary().transcript


def test_the_menu_key_may_be_said(dialog, talk):
    _menu(dialog, talk)
    (r,) = talk(dialog, "Four.")
    assert r.accepted_intent == "opening_hours" and r.escalate is None


def test_a_key_outside_the_menu_is_not_understood_and_a_person_takes_over(dialog, talk):
    _menu(dialog, talk)
    assert dialog.on_turn(keyed("7")).escalate == "no_match_limit"


def test_a_spoken_turn_after_the_menu_closes_its_keys(dialog, talk):
    _menu(dialog, talk)
    (r,) = talk(dialog, "I want to check my order")
    assert r.state == "collect" and dialog.expecting().slot == "order_number" and not dialog.expecting().choices


def test_no_menu_when_the_flows_list_none(backend, understanding, talk):
    doc = yaml.safe_load(DEFAULT_FLOWS_PATH.read_text(encoding="utf-8"))
    doc["keypad_menu"] = []
    d = TriageDialog(backend, flows=Flows.from_dict(doc), understanding=understanding)
    d.start()
    assert talk(d, *NOT_UNDERSTOOD)[-1].escalate == "no_match_limit"


@pytest.mark.parametrize("menu, why", [(["order_status", "nope"], "intents"), (["order_status"] * 2, "different")])
def test_a_bad_menu_fails_at_load_naming_it(menu, why):
    doc = yaml.safe_load(DEFAULT_FLOWS_PATH.read_text(encoding="utf-8"))
    doc["keypad_menu"] = menu
    with pytest.raises(ValueError, match="keypad_menu") as e:
        Flows.from_dict(doc)
    assert why in str(e.value)


def test_the_keypad_is_asked_for_once_before_the_offer_of_a_person_and_a_keyed_number_is_taken(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven nine", "no", "four five six seven nine", "no")
    assert r[-1].state == "collect" and r[-1].text == ("Sorry, I didn't get the order number. "
                                                       "Please use the keypad for your order number.")
    done = dialog.on_turn(keyed("45678"))
    assert "has shipped" in done.text and done.escalate is None  # keyed: exact, no read-back


@pytest.mark.parametrize("key, state", [("1", "escalated"), ("2", "collect")])
def test_one_is_yes_and_two_is_no_wherever_a_yes_or_no_is_wanted(dialog, talk, key, state):
    dialog.start()
    talk(dialog, "where is my order", "four five six seven nine", "no", "four five six seven nine", "no",
         "four five six seven nine", "no")
    assert dialog.state == "offer_human"
    assert dialog.expecting() == Expectation("yes_no", keypad=True, choices="12")
    r = dialog.on_turn(keyed(key))
    assert r.state == state  # 1: put through; 2: "let's try once more"


def test_a_keyed_yes_confirms_a_read_back(dialog, talk):
    dialog.start()
    talk(dialog, "where is my order", "four five six seven eight")
    r = dialog.on_turn(keyed("1"))
    assert "has shipped" in r.text


def test_the_plain_re_asks_for_yes_or_no_name_the_keys(dialog):
    for key in ("yes_or_no", "offer_human_unclear"):
        assert "press 1 for yes" in dialog.flows.say(key)
