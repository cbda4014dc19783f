"""Carrying out the request (nlu/fulfilment.py): the flows, the lookups, the FAQ, unsure intents confirmed."""

from __future__ import annotations

from nlu.dialog import TriageDialog
from nlu.turns import CallerTurn


def test_order_status_happy_path(dialog, talk):
    dialog.start()
    r1, r2, r3, r4 = talk(dialog, "um where's my order", "four five six seven eight", "yes", "no that's all thanks")
    assert r1.intent == "order_status" and r1.state == "collect" and "order number" in r1.text
    assert r2.state == "confirm_slot" and "4 5 6 7 8" in r2.text and r2.entities["order_number"] == "45678"
    assert "has shipped" in r3.text and "Monday 23 November" in r3.text and r3.state == "anything_else"
    assert r4.end_call and r4.state == "ended" and "Goodbye" in r4.text
    assert dialog.steps[0].action == "order_lookup" and dialog.steps[0].result == "found: shipped"
    assert dialog.customer.name == "Alice Johnson"


def test_password_reset_by_account_number_writes_the_outbox(dialog, backend, talk):
    dialog.start()
    r = talk(dialog, "i forgot my pass word", "my account number is one two three four five six seven eight", "yeah")
    assert "account number" in r[0].text
    assert "1 2 3 4 5 6 7 8" in r[1].text
    assert "a***@example.com" in r[2].text and r[2].state == "anything_else"
    (msg,) = backend.outbox()
    assert msg["account_id"] == "12345678" and msg["kind"] == "password_reset"


def test_password_reset_by_spelled_email(dialog, backend, talk):
    dialog.start()
    r = talk(dialog, "i can't log in to my account", "it's bob dot smith at example dot com", "yes")
    assert "bob dot smith at example dot com" in r[1].text
    assert "b***@example.com" in r[2].text
    assert backend.outbox()[0]["address"] == "bob.smith@example.com"


def test_opening_hours_from_the_knowledge_base(dialog, talk):
    dialog.start()
    (r,) = talk(dialog, "what time do you close on saturday")
    assert "Monday to Friday" in r.text and r.state == "anything_else"
    assert dialog.steps[-1].action == "faq" and dialog.steps[-1].detail == "opening_hours"


def test_faq_picks_the_matching_entry(dialog, talk):
    dialog.start()
    (r,) = talk(dialog, "what payment methods do you accept")
    assert "PayPal" in r.text


def test_refund_answers_then_offers_a_person(dialog, talk):
    dialog.start()
    r = talk(dialog, "i want a refund for the broken item", "no thanks")
    assert "30 days" in r[0].text and r[0].state == "offer_human"
    assert r[1].state == "ask_intent" and not r[1].escalate


def test_human_only_intent_hands_over_at_once(dialog, talk):
    dialog.start()
    (r,) = talk(dialog, "my card was stolen")
    assert r.escalate == "human_only_intent" and "fraud team" in r.text and not r.end_call


def test_unsure_intent_is_confirmed_first(backend, talk, scripted):
    nlu = scripted({"the thing with the stuff": ("order_status", 0.45)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "the thing with the stuff", "yes")
    assert r[0].state == "confirm_intent" and "check on an order" in r[0].text
    assert r[1].state == "collect" and "order number" in r[1].text


def test_unsure_intent_denied(backend, talk, scripted):
    nlu = scripted({"the thing with the stuff": ("order_status", 0.45)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "the thing with the stuff", "no")
    assert r[1].state == "ask_intent" and "What can I help you with" in r[1].text


def test_clearly_off_topic_is_declined_with_an_offer(dialog, talk):
    dialog.start()
    (r,) = talk(dialog, "can you book me a taxi to the airport")
    assert r.state == "offer_human" and "can't help with that" in r.text


def test_an_unsure_sensitive_intent_is_confirmed_before_any_hand_over(backend, talk, scripted):
    nlu = scripted({"the thing with my bill": ("billing_dispute", 0.7)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "the thing with my bill", "yes")
    assert r[0].state == "confirm_intent" and r[0].escalate is None and r[0].accepted_intent is None
    assert r[1].escalate == "human_only_intent" and r[1].accepted_intent == "billing_dispute"


def test_a_policy_sensitive_intent_needs_the_higher_confidence_too(backend, scripted):
    nlu = scripted({"money back": ("refund", 0.7)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    assert d.on_turn(CallerTurn(text="money back")).state == "offer_human"  # 0.7 >= 0.6: the FAQ answer
    d = TriageDialog(backend, understanding=nlu)
    d.sensitive_intents = frozenset({"refund"})  # the policy hands refunds to a person
    d.start()
    assert d.on_turn(CallerTurn(text="money back")).state == "confirm_intent"
