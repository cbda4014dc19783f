"""The goodbye and the offer of a person (nlu/offer_and_goodbye.py): no destructive action on
a guess."""

from __future__ import annotations

import pytest

from nlu.dialog import TriageDialog


# ---------------------------------------------------------------- no destructive action on a guess


def test_a_goodbye_before_anything_was_done_is_checked_and_no_ends_it(dialog, talk):
    dialog.start()
    first, r = talk(dialog, "okay thanks bye", "no")
    assert first.state == "anything_else" and not first.end_call and first.text == "Is there anything else I can help with?"
    assert first.accepted_intent is None  # the goodbye was not taken
    assert r.end_call and r.state == "ended"


def test_after_a_resolved_request_a_goodbye_ends_the_call_at_once(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven eight", "yes", "oh great, thanks a lot. bye")
    assert r[2].state == "anything_else"
    assert r[3].end_call and "Goodbye" in r[3].text  # after help, the same words are meant


@pytest.mark.parametrize("line", ["Oh great, thanks a lot.", "Thanks for nothing.", "Wonderful, just wonderful."])
def test_sarcasm_is_not_a_goodbye(dialog, line, talk):
    dialog.start()
    (r,) = talk(dialog, line)
    assert not r.end_call and r.escalate is None
    assert r.state == "offer_human" and r.text.startswith("Sorry about that.") and "person" in r.text
    assert r.accepted_intent is None


def test_a_complaint_shaped_goodbye_mid_flow_is_not_a_goodbye(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "one one one one one", "yes", "this is useless, goodbye")
    assert "can't find order" in r[2].text
    assert not r[3].end_call and r[3].state == "offer_human"


# ---------------------------------------------------------------- a request for a person


def test_person_on_request_mid_flow(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "just let me speak to a real person")
    assert r[1].escalate == "human_requested" and r[1].state == "escalated"


def test_a_half_sentence_read_as_a_request_for_a_person_is_confirmed(dialog, talk):
    dialog.start()
    r = talk(dialog, "I want to talk to", "yes")
    assert r[0].intent == "speak_to_human" and r[0].confidence > 0.9  # the model is sure; the words are not there
    assert r[0].escalate is None and r[0].state == "offer_human" and r[0].accepted_intent is None
    assert r[0].text == "Shall I put you through to a person?"
    assert r[1].escalate == "human_requested" and r[1].accepted_intent == "speak_to_human"


def test_an_unsure_request_naming_a_person_is_confirmed_and_no_keeps_the_bot(backend, talk, scripted):
    nlu = scripted({"the person i spoke to hung up": ("speak_to_human", 0.68)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "the person i spoke to hung up", "no")
    assert r[0].state == "offer_human" and r[0].escalate is None
    assert r[1].state == "ask_intent" and r[1].escalate is None


def test_a_clear_request_for_a_person_is_put_through_at_once(dialog, talk):
    dialog.start()
    (r,) = talk(dialog, "I want to speak to a real person please")
    assert r.escalate == "human_requested" and r.accepted_intent == "speak_to_human"


# ------------------------------------------------- the offer of a person: yes, no, or asked again


def _offered_after_read_backs(d, talk):
    """A person offered after three rejected read-backs, the keypad asked for after the second
    (no turn not understood before it)."""
    d.start()
    r = talk(d, "where is my order", "four five six seven nine", "no", "four five six seven nine", "no",
             "four five six seven nine", "no")
    assert r[4].state == "collect" and "keypad" in r[4].text
    assert r[-1].state == "offer_human" and d.no_match == 0
    return r[-1]


@pytest.mark.parametrize("line", ["Now, thank you.", "Thank you.", "Thanks anyway.", "I guess so."])
def test_an_answer_to_the_offer_neither_yes_nor_no_is_asked_again_plainly(dialog, line, talk):
    _offered_after_read_backs(dialog, talk)
    (r,) = talk(dialog, line)  # "No, thank you." heard without its "no", thanks alone, a "no" at 0.54
    assert r.text == "Would you like a person? Please say yes or no, or press 1 for yes, 2 for no."
    assert r.state == "offer_human" and not r.end_call and r.escalate is None and r.accepted_intent is None
    assert dialog.no_match == 1  # counted like any confirmation not understood
    (r2,) = talk(dialog, "No, thank you.")
    assert r2.state == "collect" and r2.text == "Okay, let's try once more. Please say or key in your order number."


def test_turns_not_understood_while_collecting_get_the_keypad_then_a_person(dialog, talk):
    dialog.start()
    r = talk(dialog, "where is my order", "I don't know", "I'm not sure", "I haven't got a clue")
    assert r[2].state == "collect" and r[2].text.endswith("Please use the keypad for your order number.")
    assert dialog.no_match == 3 and r[3].escalate == "no_match_limit"  # a person, not a hang-up


def test_a_goodbye_after_the_offer_before_anything_was_done_is_checked_then_the_second_ends(dialog, talk):
    dialog.start()
    r = talk(dialog, "can you book me a taxi to the airport", "No, that's all. Thank you, goodbye.", "Bye.")
    assert r[0].state == "offer_human"
    assert r[1].text == "Is there anything else I can help with?" and not r[1].end_call
    assert r[2].end_call and "Goodbye" in r[2].text
    # thanks alone, twice: asked yes or no, then taken as "no, thank you" (not a goodbye: nothing
    # was done, so "How can I help?"); a goodbye after that is checked, the second ends the call
    d = TriageDialog(dialog.backend, understanding=dialog.nlu)
    d.start()
    r = talk(d, "can you book me a taxi to the airport", "Thank you.", "Thank you.", "Goodbye.", "Goodbye.")
    assert r[1].text == "Would you like a person? Please say yes or no, or press 1 for yes, 2 for no."
    assert r[2].text == "Okay, let's keep going. How can I help?" and r[2].state == "ask_intent" and not r[2].end_call
    assert r[3].text == "Is there anything else I can help with?" and not r[3].end_call
    assert r[4].end_call


def test_an_unsure_yes_to_the_offer_is_asked_again_before_a_transfer(backend, talk, scripted):
    nlu = scripted({"yeah maybe": ("yes", 0.5)})
    d = TriageDialog(backend, understanding=nlu)
    _offered_after_read_backs(d, talk)
    r = talk(d, "yeah maybe", "yes")
    assert r[0].escalate is None and r[0].state == "offer_human"
    assert r[1].escalate == "human_requested"


def test_the_number_given_to_the_offer_after_failed_tries_is_taken(dialog, talk):
    _offered_after_read_backs(dialog, talk)
    (r,) = talk(dialog, "four five six seven eight")
    assert r.state == "confirm_slot" and r.text == "That's order 4 5 6 7 8. Is that right?"
    assert "has shipped" in talk(dialog, "yes")[0].text


# ------------------------------- the offer of a person made while the caller was giving a number


def _offered_while_collecting(backend, scripted, talk):
    """A misheard account number that reads as an unsure request for a person (tune split,
    t-reset-hesitant: "Or, I understand when it, I know one." classified speak_to_human 0.62)."""
    nlu = scripted({"Or, I understand when it, I know one.": ("speak_to_human", 0.62)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "I need to reset my password", "Or, I understand when it, I know one.")
    assert r[1].state == "offer_human" and r[1].text == "Shall I put you through to a person?"
    return d


def test_no_to_a_person_offered_mid_number_goes_back_to_the_number(backend, talk, scripted):
    d = _offered_while_collecting(backend, scripted, talk)
    (r,) = talk(d, "No, thank you.")
    assert r.state == "collect" and "account number" in r.text and r.text.startswith("Okay, let's try once more.")


def test_the_number_given_to_a_person_offered_mid_number_is_taken(backend, talk, scripted):
    d = _offered_while_collecting(backend, scripted, talk)
    (r,) = talk(d, "one two three four five six seven eight")
    assert r.state == "confirm_slot" and "1 2 3 4 5 6 7 8" in r.text


def test_thanks_alone_twice_to_the_offer_is_a_no_thank_you_never_a_goodbye(backend, talk, scripted):
    # tune split: "No, thank you." heard "So, thank you." twice; taken as a goodbye, the second
    # got "anything else?" before anything was done, and the caller, not helped, said goodbye
    d = _offered_while_collecting(backend, scripted, talk)
    r = talk(d, "So, thank you.", "So, thank you.")
    assert r[0].text == "Would you like a person? Please say yes or no, or press 1 for yes, 2 for no."
    assert r[1].state == "collect" and r[1].text.startswith("Okay, let's try once more.") and "account number" in r[1].text
    assert not any(x.end_call or x.escalate for x in r) and r[1].accepted_intent is None


def test_a_caller_who_turned_down_a_person_and_failed_again_is_handed_over_not_looped(dialog, talk):
    """A number Whisper keeps mishearing (read back as 60788, which the caller refuses): no to the
    offer of a person, one more try, refused again: the bot hands over instead of offering again,
    which went round until the caller hung up."""
    dialog.start()
    r = talk(dialog, "where is my order", "six oh seven eight eight", "no", "six oh seven eight eight", "no",
             "six oh seven eight eight", "no", "no", "six oh seven eight eight", "no")
    assert [x.state for x in r] == ["collect", "confirm_slot", "collect", "confirm_slot", "collect", "confirm_slot",
                                    "offer_human", "collect", "confirm_slot", "escalated"]
    assert r[4].text.endswith("Please use the keypad for your order number.")  # the keypad, once, before the offer of a person
    assert r[7].text.startswith("Okay, let's try once more.")
    assert r[9].escalate == "unresolved" and r[9].text.endswith("Let me get you a person. They can sort this out.")


def test_an_off_topic_caller_who_turns_down_a_person_is_not_offered_one_again_and_again(dialog, talk):
    """Out of scope, a person offered, "So thank you." (Whisper's "No, thank you") twice, then
    out of scope again: the turns not understood still count; at max_no_match the keypad menu
    comes once, and the next turn not understood reaches a person rather than going round
    ("Okay, let's keep going." without end)."""
    dialog.start()
    r = talk(dialog, "Book me a taxi to the airport.", "So thank you.", "So thank you.", "Book me a taxi to the airport.",
             "Book me a taxi to the airport.")
    assert [x.state for x in r] == ["offer_human", "offer_human", "ask_intent", "ask_intent", "escalated"]
    assert "Press 1 to check on an order" in r[3].text
    assert r[4].escalate == "no_match_limit" and sum(x.text.endswith("Would you like to talk to a person?") for x in r) == 1


def test_words_read_as_wanting_a_person_while_giving_a_number_are_asked_about_once(dialog, talk):
    """Digits Whisper heard as words that read as a request for a person ("Or, I understand when
    it, I know one."): "Shall I put you through?" once; turned down, the same again is a failed
    try at the number (asked one digit at a time), not the same question."""
    dialog.start()
    misheard = "Or, I understand when it, I know one."
    r = talk(dialog, "I can't log in, I need a new password.", misheard, "no", misheard)
    assert r[1].text == "Shall I put you through to a person?" and r[2].text.startswith("Okay, let's try once more.")
    assert r[3].state == "collect" and "one digit at a time" in r[3].text


def test_a_goodbye_while_a_number_is_being_read_back_is_checked_not_taken(dialog, talk):
    """A value still awaiting its read-back is not help given: "No, thank you" heard as "Hello.
    Thank you." to "Is that right?" got "Goodbye." and the caller was left without their reset."""
    dialog.start()
    r = talk(dialog, "I need to reset my password", "five six one oh one eight nine oh", "Hello. Thank you.")
    assert r[1].state == "confirm_slot"
    assert not r[2].end_call and r[2].state != "ended"
