"""The scripted caller's answers: the bot's words → which line it says, as a person would."""

import pytest

from ivr.tools.caller_answers import Answer, Ask, CallerState, answer, classify, first_line, menu_key, read_back_digits
from ivr.tools.caller_script import parse_set


def _caller(**kw):
    base = {"id": "c", "intent": "account_balance", "voice": "v", "opening": "What's my balance?",
            "account": "12345678", "pin": "4321"}
    return parse_set({"voices": {"v": {"engine": "piper"}}, "tune": [{**base, **kw}]}).callers[0]


def _keys(caller, *bot_texts):
    """The keys of the lines a caller says: its first, then one per bot reply."""
    a, s = first_line(caller)
    keys = [a.key]
    for text in bot_texts:
        a, s = answer(text, caller, s)
        keys.append(a.key)
    return keys


@pytest.mark.parametrize("text, ask", [
    ("Hi, thanks for calling Acme. I'm an automated assistant. How can I help you today?", Ask.HOW_CAN_I_HELP),
    ("Sure. What's your order number?", Ask.ORDER),
    ("Please say or key in your order number, then press hash.", Ask.ORDER),
    ("I can't find order 4 5 6. Could you say it again?", Ask.ORDER),
    ("That's order 4 5 6 7 8. Is that right?", Ask.CONFIRM_VALUE),
    ("I can help with that. What's your account number, or the email address on the account?", Ask.ACCOUNT),
    ("Thanks. For security, please say your four-digit PIN or your date of birth.", Ask.PIN),
    ("Your order has shipped. The lamp should arrive by Friday. Is there anything else I can help with?", Ask.ANYTHING_ELSE),
    ("Just to check. You'd like to reset your password?", Ask.CONFIRM_INTENT),
    ("Sorry, was that a yes or a no?", Ask.YES_OR_NO),
    ("Sorry, I can't help with that. Would you like to talk to a person?", Ask.OFFER_HUMAN),
    ("Sorry, I didn't understand. You can say things like: where is my order, reset my password.", Ask.HOW_CAN_I_HELP),
    ("Are you still there? How can I help?", Ask.HOW_CAN_I_HELP),
    ("Are you still there?", Ask.STILL_THERE),
    ("Sure. I'm putting you through to a person now.", Ask.UNKNOWN),
    # the question asked last is the one answered
    ("Sorry, I didn't get the order number. I can put you through to a person. Would you like that?", Ask.OFFER_HUMAN),
    ("Would you like a person? Please say yes or no.", Ask.OFFER_HUMAN),
    ("Shall I put you through to a person?", Ask.OFFER_HUMAN),
    ("That's order 4 5 6. Is that right? You can say agent at any time to talk to a person.", Ask.CONFIRM_VALUE),
    ("Okay, let's try once more. Please say or key in your order number.", Ask.ORDER),
    # a partial number held: a request for the (rest of the) number
    ("Okay. I have 4 5 so far. What's the rest of the order number?", Ask.ORDER),
    ("Okay. I have 1 2 3 so far. What's the rest of the account number?", Ask.ACCOUNT),
    ("Are you still there? What's the rest of the order number?", Ask.ORDER),
    ("4 5. And the rest?", Ask.NUMBER_REST),
])
def test_classify(text, ask):
    assert classify(text) is ask


def test_read_back_digits_numerals_and_words():
    assert read_back_digits("That's order 4 5 6 7 8. Is that right?") == "45678"
    assert read_back_digits("That's account one two three four five six seven eight. Is that right?") == "12345678"


def test_a_conversation_for_balance():
    c = _caller()
    a, s = first_line(c)
    assert a.key == "opening" and s.said_opening
    a, s = answer("Sure. What's your account number?", c, s)
    assert a.key == "account" and not a.keypad
    a, s = answer("That's account 1 2 3 4 5 6 7 8. Is that right?", c, s)
    assert a.key == "yes"
    a, s = answer("Sorry, was that a yes or a no?", c, s)
    assert a.key == "yes"  # the same answer again
    a, s = answer("Thanks. For security, please say your four-digit PIN or your date of birth.", c, s)
    assert a.key == "pin"
    a, s = answer("Thanks, Alice. Your balance is 42 dollars. Is there anything else I can help with?", c, s)
    assert a.key == "closing"


def test_wrong_digits_read_back_get_a_no_and_the_no_is_repeated():
    assert _keys(_caller(), "That's account 1 2 3 4 5 6 7 9. Is that right?", "Sorry, was that a yes or a no?") == [
        "opening", "no", "no"]


def test_preamble_first_then_the_need_when_the_bot_asks_again():
    c = _caller(preamble="Oh brilliant, another robot.")
    assert not first_line(c)[1].said_opening
    # Even a premature "anything else?" gets the need, not the closing.
    assert _keys(c, "Is there anything else I can help with?", "Sorry, I didn't understand. How can I help?") == [
        "preamble", "opening", "restate"]


def test_restates_are_bounded_then_the_caller_hangs_up():
    c = _caller(restate="My balance, please.")
    _, s = first_line(c)
    keys = []
    for _ in range(3):
        a, s = answer("Sorry, I didn't catch that.", c, s)
        keys.append(a.key)
    assert keys == ["restate", "restate", "hang_up"]
    assert c.lines()["restate"] == "My balance, please."


def test_intent_confirmation_yes_only_for_its_own_intent():
    c = _caller()
    _, s = first_line(c)
    assert answer("Just to check. You'd like to hear your account balance?", c, s)[0].key == "yes"
    assert answer("Just to check. You'd like to check on an order?", c, s)[0].key == "no"


def test_offer_of_a_person_depends_on_the_need():
    routine, handoff = _caller(), _caller(intent="fraud_stolen_card", account=None, pin=None)
    offer = "Sorry, I can't help with that. Would you like to talk to a person?"
    assert answer(offer, routine, first_line(routine)[1])[0].key == "decline_human"
    assert answer(offer, handoff, first_line(handoff)[1])[0].key == "accept_human"


def test_keypad_callers_key_numbers_and_say_the_rest():
    c = _caller(keypad=True)
    _, s = first_line(c)
    a, s = answer("Sure. What's your account number?", c, s)
    assert a.key == "account" and a.keypad
    a, _ = answer("That's account 1 2 3 4 5 6 7 8. Is that right?", c, s)
    assert a.key == "yes" and not a.keypad


def test_asked_for_a_number_it_does_not_have_it_restates_its_need():
    c = _caller()  # a balance caller has no order number
    _, s = first_line(c)
    assert answer("Sure. What's your order number?", c, s)[0].key == "restate"


def test_still_there_repeats_the_last_line_and_unknown_waits():
    c = _caller()
    _, s = first_line(c)
    _, s = answer("Sure. What's your account number?", c, s)
    assert answer("Are you still there?", c, s)[0].key == "account"
    a, s2 = answer("One moment.", c, s)
    assert a.key == "wait" and s2.last == "account"
    assert CallerState().last is None


def test_a_partial_number_held_is_answered_with_the_number():
    order = _caller(intent="order_status", opening="Where's my order?", account=None, pin=None, order="45678")
    held = "Okay. I have 4 5 so far. What's the rest of the order number?"
    assert _keys(order, "Sure. Please say or key in your order number.", held) == ["opening", "order", "order"]
    # "And the rest?" without the number's name: the number it was giving
    assert _keys(_caller(), "Sure. What's your account number?", "1 2 3. And the rest?") == [
        "opening", "account", "account"]
    assert _keys(order, "4 5. And the rest?") == ["opening", "order"]
    keyed = _caller(intent="order_status", opening="Where's my order?", account=None, pin=None, order="45678",
                    keypad=True)
    _, s = first_line(keyed)
    assert answer(held, keyed, s)[0] == Answer("order", keypad=True)


def test_the_offer_asked_again_gets_the_same_answer():
    routine = _caller()
    assert _keys(routine, "Sorry, I didn't get that. I can put you through to a person. Would you like that?",
                 "Would you like a person? Please say yes or no.", "Sorry, was that a yes or a no?") == [
        "opening", "decline_human", "decline_human", "decline_human"]


def test_anything_else_with_nothing_told_gets_the_need_again_then_the_closing():
    # tune split: after a misheard "no, thank you" the bot asked "anything else?" with nothing
    # done, and the caller said "No, that's all. Goodbye." as if its question had been answered
    c = _caller(restate="My balance, please.")
    assert _keys(c, "Is there anything else I can help with?", "Okay. Is there anything else I can help with?",
                 "Is there anything else I can help with?") == ["opening", "restate", "restate", "closing"]
    told = "Thanks, Alice. Your balance is 42 dollars. Is there anything else I can help with?"
    assert _keys(c, "Is there anything else I can help with?", told) == ["opening", "restate", "closing"]
    # once told, a later bare "anything else?" is answered with the closing
    assert _keys(c, told, "Is there anything else I can help with?") == ["opening", "closing", "closing"]


MENU = ("Sorry, I'm still not getting it. You can use your keypad instead. Press 1 to check on an order, 2 to "
        "reset your password, 3 to hear your account balance, or 4 to ask about our opening hours. For a person, press 0.")


@pytest.mark.parametrize("intent, key", [("order_status", "1"), ("account_balance", "3"), ("opening_hours", "4"),
                                         ("fraud_stolen_card", "0"), ("speak_to_human", "0")])
def test_a_caller_presses_the_menu_key_of_its_need_or_a_persons(intent, key):
    c = _caller(intent=intent, order="45678") if intent == "order_status" else _caller(intent=intent)
    assert classify(MENU) is Ask.MENU and menu_key(MENU, c) == key
    a, s = answer(MENU, c, CallerState(said_opening=True))
    assert a == Answer("menu", keys=key) and s.last == "menu"


def test_a_caller_whose_need_is_not_in_the_menu_says_it_again():
    menu = MENU.replace(" 3 to hear your account balance,", "")  # a balance caller, and no balance in it
    c = _caller()
    assert menu_key(menu, c) == "" and answer(menu, c, CallerState(said_opening=True))[0].key == "restate"


def test_every_caller_keys_its_number_when_told_to_use_the_keypad_and_not_when_offered_it():
    c = _caller()
    told = answer("Sorry, I didn't get that. Please use the keypad for your account number.", c, CallerState(said_opening=True))
    offered = answer("Please say or key in your account number.", c, CallerState(said_opening=True))
    assert told[0] == Answer("account", keypad=True) and offered[0] == Answer("account")


def test_only_a_keypad_caller_presses_the_key_offered_for_yes_or_no():
    text = "Would you like a person? Please say yes or no, or press 1 for yes, 2 for no."
    assert answer(text, _caller(), CallerState(said_opening=True))[0] == Answer("decline_human")
    assert answer(text, _caller(keypad=True), CallerState(said_opening=True))[0] == Answer("decline_human", keys="2")
