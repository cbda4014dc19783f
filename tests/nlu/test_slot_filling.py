"""Taking a number (nlu/slot_filling.py): read-backs, the keypad, numbers across turns, repeats
heard too often or too few, failed tries that end in the offer of a person."""

from __future__ import annotations

import pytest

from nlu.dialog import TriageDialog
from nlu.turns import CallerTurn


def test_order_number_in_the_first_turn_skips_the_question(dialog, talk):
    dialog.start()
    (r,) = talk(dialog, "hi where is my order number one oh two three four")
    assert r.state == "confirm_slot" and "1 0 2 3 4" in r.text


def test_caller_corrects_the_number_at_confirmation(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven nine", "no it's four five six seven eight", "yes")
    assert "4 5 6 7 9" in r[1].text and "4 5 6 7 8" in r[2].text
    assert "has shipped" in r[3].text


def test_plain_no_at_confirmation_asks_again(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven nine", "no")
    assert r[2].state == "collect" and "one digit at a time" in r[2].text


def test_unknown_order_twice_asks_for_the_keypad_then_a_third_offers_a_person(dialog, talk):
    dialog.start()
    r = talk(dialog, "order status", "one one one one one", "yes", "two two two two two", "yes",
             CallerTurn(text="33333", keypad=True), "yes please")
    assert "can't find order 1 1 1 1 1" in r[2].text and r[2].state == "collect"
    assert r[4].state == "collect" and r[4].text == "I can't find order 2 2 2 2 2. Please use the keypad for your order number."
    assert r[5].state == "offer_human" and "can't find order 3 3 3 3 3" in r[5].text and "person" in r[5].text
    assert r[6].escalate == "human_requested" and r[6].state == "escalated"


def test_an_inner_no_in_a_spoken_order_number_is_read_back_as_a_zero(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "One, no, two. Three, four.")
    assert r[1].state == "confirm_slot" and r[1].text == "That's order 1 0 2 3 4. Is that right?"


def test_for_at_the_edge_of_a_number_is_a_four_when_a_number_is_asked_for(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "for five six seven eight")
    assert "That's order 4 5 6 7 8" in r[1].text


def test_prompts_for_numbers_say_they_may_be_keyed_in(dialog):
    flows = dialog.flows
    for key in ("order_status.ask_order", "order_status.reask_order", "order_status.not_found",
                "password_reset.ask_account", "password_reset.reask_account", "account_balance.ask_account",
                "account_balance.reask_account", "account_balance.ask_verify", "account_balance.verify_failed"):
        assert "key" in flows.say(key), key


def test_a_keyed_order_number_is_looked_up_without_a_read_back(dialog, talk):
    dialog.start()
    talk(dialog, "where is my order")
    r = dialog.on_turn(CallerTurn(text="45678", keypad=True))
    assert "has shipped" in r.text and r.state == "anything_else"
    assert r.caller_text == "[keypad] 45678" and r.entities["order_number"] == "45678"
    assert dialog.steps[-1] == type(dialog.steps[-1])("order_lookup", "order 45678", "found: shipped")
    transcript = dialog.summary().transcript
    assert {"speaker": "caller", "text": "[keypad] 45678"} in transcript


def test_a_keyed_order_number_with_a_zero_is_looked_up_not_transferred(dialog, talk):
    dialog.start()
    talk(dialog, "where is my order")
    r = dialog.on_turn(CallerTurn(text="10234", keypad=True))
    assert r.escalate is None and "out for delivery" in r.text


# ---------------------------------------------------------------- numbers across turns


def test_digits_said_across_turns_join_into_one_answer(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five")
    assert r[1].state == "collect" and r[1].text == "Okay. I have 4 5 so far. What's the rest of the order number?"
    # the rest (3) completes the answer now, and so does the whole number said again (5)
    assert dialog.expecting().digits == (3, 5) and dialog.expecting().keypad
    (r2,) = talk(dialog, "six seven eight")
    assert r2.state == "confirm_slot" and "That's order 4 5 6 7 8" in r2.text
    assert "has shipped" in talk(dialog, "yes")[0].text


def test_a_partial_number_is_continued_over_several_turns_or_said_again_whole(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four", "and five six", "seven eight")
    assert "I have 4 so far" in r[1].text and "I have 4 5 6 so far" in r[2].text
    assert "4 5 6 7 8" in r[3].text and r[3].state == "confirm_slot"
    dialog = TriageDialog(dialog.backend, understanding=dialog.nlu)
    dialog.start()
    r = talk(dialog, "where is my order", "four five", "four five six seven eight")  # started over
    assert "That's order 4 5 6 7 8" in r[2].text


def test_a_turn_that_is_not_digits_discards_the_partial(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five", "hmm I don't have it to hand")
    assert dialog.partial == "" and r[2].state in ("collect", "offer_human")
    assert "4 5" not in r[2].text
    (r3,) = talk(dialog, "six seven eight")  # a fresh number, not the rest of 4 5
    assert "6 7 8" in r3.text and "4 5 6 7 8" not in r3.text


def test_a_short_number_begun_afresh_replaces_the_partial_and_counts_as_a_try(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "one two three four", "one oh two", "three four")
    assert "I have 1 0 2 so far" in r[2].text and dialog.attempts["order_number"] == 1
    assert "That's order 1 0 2 3 4" in r[3].text
    dialog = TriageDialog(dialog.backend, understanding=dialog.nlu)
    dialog.start()
    r = talk(dialog, "where is my order", "one two three four", "one two three", "one two three")
    assert r[3].state == "collect" and "keypad" in r[3].text  # the second fresh start reaches max_slot_attempts


def test_asking_to_hear_it_again_keeps_the_partial(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five", "sorry, can you say that again?", "six seven eight")
    assert r[2].text == r[1].text and "That's order 4 5 6 7 8" in r[3].text


def test_the_rest_keyed_in_joins_the_spoken_part_and_is_read_back(dialog, talk):
    dialog.start()
    talk(dialog, "where is my order", "four five")
    r = dialog.on_turn(CallerTurn(text="678", keypad=True))
    assert r.state == "confirm_slot" and "4 5 6 7 8" in r.text  # part was spoken: checked


def test_a_partial_number_names_the_number_it_belongs_to(dialog, talk):
    dialog.start()
    r = talk(dialog, "I need to reset my password", "one two three")
    assert r[1].state == "collect"
    assert r[1].text == "Okay. I have 1 2 3 so far. What's the rest of the account number?"
    # the re-prompt on silence repeats the question, which names the number too
    assert dialog.on_turn(CallerTurn(no_input=True)).text == "Are you still there? What's the rest of the account number?"


# ------------------------------------------------- a repeat heard once too often or too few


@pytest.mark.parametrize("heard", ["seven seven two two", "seven seven two two two two", "7 7 7 2 2 2"])
def test_a_repeat_heard_once_too_often_or_too_few_reads_back_the_one_order_that_exists(dialog, heard, talk):
    dialog.start()
    r = talk(dialog, "where is my order", heard)
    assert r[1].state == "confirm_slot" and "That's order 7 7 2 2 2. Is that right?" in r[1].text
    assert "delivered" in talk(dialog, "yes")[0].text  # acted on only once confirmed


def test_two_existing_readings_of_a_repeat_are_not_guessed_between(understanding, talk, more_records):
    d = TriageDialog(more_records(orders={"77722"}), understanding=understanding)
    d.start()
    r = talk(d, "where is my order", "seven seven seven two two two")  # 77722 and 77222 both exist
    assert r[1].state == "collect" and "didn't get the order number" in r[1].text
    assert d.steps == []  # nothing looked up as the caller's order


def test_a_wrong_length_without_a_repeat_is_re_asked(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "one two three four five six")
    assert r[1].state == "collect" and "didn't get the order number" in r[1].text


def test_an_account_number_one_repeat_short_is_read_back_when_it_exists(understanding, talk, more_records):
    d = TriageDialog(more_records(accounts={"12344478"}), understanding=understanding)  # the demo 12345678
    d.start()
    r = talk(d, "I forgot my password", "one two three four four seven eight")
    assert r[1].state == "confirm_slot" and "That's account 1 2 3 4 4 4 7 8" in r[1].text


# ------------------------------------------------------- failed tries: never an endless loop


def test_a_confirmation_not_understood_twice_offers_a_person(backend, talk, scripted):
    nlu = scripted({"yes not right": ("out_of_scope", 0.4)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "where is my order", "four five six seven eight", "yes not right", "yes not right")
    assert r[2].state == "confirm_slot" and "yes or a no" in r[2].text
    assert r[3].state == "offer_human" and r[3].text.startswith("Sorry, I'm still not sure.") and "person" in r[3].text
    # "no" to the person: the number is asked for once more, not "How can I help?"
    (r4,) = talk(d, "no")
    assert r4.state == "collect" and r4.text == "Okay, let's try once more. Please say or key in your order number."


def test_read_backs_rejected_max_slot_attempts_times_ask_for_the_keypad_then_offer_a_person(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven nine", "no", "four five six seven nine", "no",
             "four five six seven nine", "no")
    assert r[2].state == "collect" and "one digit at a time" in r[2].text
    assert r[4].state == "collect" and r[4].text.endswith("Please use the keypad for your order number.")
    assert r[6].state == "offer_human" and "person" in r[6].text
    assert talk(dialog, "yes")[0].escalate == "human_requested"


def test_corrections_count_as_tries_too(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven nine", "no it's four five six seven one",
             "no it's four five six seven two")
    assert "4 5 6 7 1" in r[2].text and r[2].state == "confirm_slot"
    assert r[3].state == "collect" and "keypad" in r[3].text  # the tries are spent: the keypad


def test_a_slot_re_asked_without_progress_asks_for_the_keypad_then_offers_a_person(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "I don't know", "I'm not sure", CallerTurn(text="99999", keypad=True))
    assert r[1].state == "collect" and r[2].state == "collect" and "keypad" in r[2].text
    assert r[3].state == "offer_human" and "can't find order 9 9 9 9 9" in r[3].text
    assert not any(x.escalate for x in r)


def test_an_unsure_yes_or_no_to_a_read_back_is_asked_yes_or_no(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven eight", "I guess so.", "yes")
    assert r[2].intent == "no" and r[2].confidence < 0.6  # the model's guess
    assert r[2].state == "confirm_slot" and "yes or a no" in r[2].text and "order_number" not in dialog.attempts
    assert "has shipped" in r[3].text
