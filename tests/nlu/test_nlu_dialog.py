"""The triage dialog, scripted turn by turn against the demo backend and real models."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from nlu.dialog import BotReply, CallerTurn, TriageDialog, say_amount, say_date, say_digits
from nlu.flows import DEFAULT_FLOWS_PATH, Flows
from nlu.intents import IntentResult
from nlu.redact import CARD_MASK
from nlu.understanding import Understanding


@pytest.fixture()
def dialog(backend, understanding):
    return TriageDialog(backend, understanding=understanding)


def talk(d: TriageDialog, *turns) -> list[BotReply]:
    out = []
    for t in turns:
        out.append(d.on_turn(t if isinstance(t, CallerTurn) else CallerTurn(text=t)))
    return out


def test_greeting(dialog):
    r = dialog.start()
    assert r.text.startswith("Hi, thanks for calling Acme.")
    assert r.state == "ask_intent" and not r.end_call and r.escalate is None


def test_order_status_happy_path(dialog):
    dialog.start()
    r1, r2, r3, r4 = talk(dialog, "um where's my order", "four five six seven eight", "yes", "no that's all thanks")
    assert r1.intent == "order_status" and r1.state == "collect" and "order number" in r1.text
    assert r2.state == "confirm_slot" and "4 5 6 7 8" in r2.text and r2.entities["order_number"] == "45678"
    assert "has shipped" in r3.text and "Monday 23 November" in r3.text and r3.state == "anything_else"
    assert r4.end_call and r4.state == "ended" and "Goodbye" in r4.text
    assert dialog.steps[0].action == "order_lookup" and dialog.steps[0].result == "found: shipped"
    assert dialog.customer.name == "Alice Johnson"


def test_order_number_in_the_first_turn_skips_the_question(dialog):
    dialog.start()
    (r,) = talk(dialog, "hi where is my order number one oh two three four")
    assert r.state == "confirm_slot" and "1 0 2 3 4" in r.text


def test_caller_corrects_the_number_at_confirmation(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven nine", "no it's four five six seven eight", "yes")
    assert "4 5 6 7 9" in r[1].text and "4 5 6 7 8" in r[2].text
    assert "has shipped" in r[3].text


def test_plain_no_at_confirmation_asks_again(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven nine", "no")
    assert r[2].state == "collect" and "one digit at a time" in r[2].text


def test_unknown_order_twice_offers_a_person(dialog):
    dialog.start()
    r = talk(dialog, "order status", "one one one one one", "yes", "two two two two two", "yes", "yes please")
    assert "can't find order 1 1 1 1 1" in r[2].text and r[2].state == "collect"
    assert r[4].state == "offer_human" and "person" in r[4].text
    assert r[5].escalate == "human_requested" and r[5].state == "escalated"


def test_password_reset_by_account_number_writes_the_outbox(dialog, backend):
    dialog.start()
    r = talk(dialog, "i forgot my pass word", "my account number is one two three four five six seven eight", "yeah")
    assert "account number" in r[0].text
    assert "1 2 3 4 5 6 7 8" in r[1].text
    assert "a***@example.com" in r[2].text and r[2].state == "anything_else"
    (msg,) = backend.outbox()
    assert msg["account_id"] == "12345678" and msg["kind"] == "password_reset"


def test_password_reset_by_spelled_email(dialog, backend):
    dialog.start()
    r = talk(dialog, "i can't log in to my account", "it's bob dot smith at example dot com", "yes")
    assert "bob dot smith at example dot com" in r[1].text
    assert "b***@example.com" in r[2].text
    assert backend.outbox()[0]["address"] == "bob.smith@example.com"


def test_balance_after_pin(dialog):
    dialog.start()
    r = talk(dialog, "how much do i owe", "two three four five six seven eight nine", "yes", "my pin is one one one one")
    assert r[3].text.startswith("Thanks, Bob.") and "Nothing is owed" in r[3].text
    assert dialog.verified


def test_balance_after_date_of_birth(dialog):
    dialog.start()
    r = talk(dialog, "what's my balance", "twelve thirty four fifty six seventy eight", "that's right",
             "my date of birth is the fourth of july nineteen eighty five")
    assert "42 dollars and 50 cents" in r[3].text and "due on Thursday 3 December" in r[3].text
    assert r[3].state == "anything_else"


def test_balance_is_never_told_without_verification(dialog):
    dialog.start()
    r = talk(dialog, "what's my balance", "one two three four five six seven eight", "yes",
             "one two three four", "nine nine nine nine")
    assert "doesn't match" in r[3].text and "dollars" not in r[3].text
    assert r[4].escalate == "verification_failed" and "dollars" not in r[4].text
    assert not dialog.verified


def test_known_caller_id_goes_straight_to_verification(backend, understanding):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0103")
    d.start()
    r = talk(d, "what's my account balance", "two four six eight")
    assert r[0].state == "verify"
    assert "Carol" in r[1].text and "1299 dollars and 99 cents" in r[1].text


def test_opening_hours_from_the_knowledge_base(dialog):
    dialog.start()
    (r,) = talk(dialog, "what time do you close on saturday")
    assert "Monday to Friday" in r.text and r.state == "anything_else"
    assert dialog.steps[-1].action == "faq" and dialog.steps[-1].detail == "opening_hours"


def test_faq_picks_the_matching_entry(dialog):
    dialog.start()
    (r,) = talk(dialog, "what payment methods do you accept")
    assert "PayPal" in r.text


def test_refund_answers_then_offers_a_person(dialog):
    dialog.start()
    r = talk(dialog, "i want a refund for the broken item", "no thanks")
    assert "30 days" in r[0].text and r[0].state == "offer_human"
    assert r[1].state == "ask_intent" and not r[1].escalate


def test_human_only_intent_hands_over_at_once(dialog):
    dialog.start()
    (r,) = talk(dialog, "my card was stolen")
    assert r.escalate == "human_only_intent" and "fraud team" in r.text and not r.end_call


def test_person_on_request_mid_flow(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "just let me speak to a real person")
    assert r[1].escalate == "human_requested" and r[1].state == "escalated"


def test_no_match_limit(dialog):
    dialog.start()
    r = talk(dialog, "zxq blorp fnarg", "purple telescope banana wednesday", "glorp the the the")
    assert [x.escalate for x in r] == [None, None, "no_match_limit"]
    assert dialog.no_match == 3


def test_repeat_says_the_last_prompt_again(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "sorry can you say that again")
    assert r[1].text == r[0].text and r[1].state == "collect"


def test_no_input_reprompts_then_ends(dialog):
    dialog.start()
    talk(dialog, "where is my order")
    r = talk(dialog, CallerTurn(no_input=True), CallerTurn(no_input=True), CallerTurn(no_input=True))
    assert "order number" in r[0].text and r[0].state == "collect"
    assert not r[1].end_call
    assert r[2].end_call and r[2].state == "ended"


def test_no_input_can_escalate_instead(backend, understanding):
    doc = yaml.safe_load(DEFAULT_FLOWS_PATH.read_text())
    doc = copy.deepcopy(doc)
    doc["settings"]["no_input_action"] = "escalate"
    d = TriageDialog(backend, flows=Flows.from_dict(doc), understanding=understanding)
    d.start()
    r = talk(d, *[CallerTurn(no_input=True)] * 3)
    assert r[-1].escalate == "no_input_limit" and not r[-1].end_call


def test_frustration_rises_and_escalates(dialog):
    dialog.start()
    angry = {"pitch_median_hz_z": 2.5, "energy_db_z": 2.0, "pitch_range_st_z": 1.5}
    r = talk(
        dialog,
        "where is my order",
        "i don't know it",
        CallerTurn(text="I ALREADY TOLD YOU I don't have it, this is ridiculous", prosody=angry, barge_in=True),
        CallerTurn(text="oh great, this is useless, I've been on hold for an hour", prosody=angry, barge_in=True),
    )
    scores = [x.frustration for x in r]
    assert scores[0] < 0.1 and scores == sorted(scores)
    assert r[-1].escalate == "frustration" and "frustrating" in r[-1].text
    assert dialog.barge_ins == 2


def test_a_frustrated_caller_is_told_about_the_agent_option(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", CallerTurn(text="this is ridiculous, I already told you",
                                                     prosody={"energy_db_z": 1.0}))
    assert r[1].escalate is None and "say agent" in r[1].text


def test_barge_in_raises_the_score(backend, understanding):
    def score(barge):
        d = TriageDialog(backend, understanding=understanding)
        d.start()
        return d.on_turn(CallerTurn(text="where is my order", barge_in=barge)).frustration_raw

    assert score(True) > score(False)


def test_after_the_end_the_dialog_stays_ended(dialog):
    dialog.start()
    first, r = talk(dialog, "goodbye", "goodbye")  # the first, before anything was done, is checked
    assert first.state == "anything_else" and r.end_call
    assert dialog.on_turn(CallerTurn(text="where is my order")) == r


class _Scripted(Understanding):
    """Real entities and cues, but the intent and confidence we choose."""

    def __init__(self, base: Understanding, intents: dict[str, tuple[str, float]]):
        super().__init__(classifier=base.classifier, today=base.today)
        self._intents = intents

    def analyse(self, text, previous_embeddings=()):
        a = super().analyse(text, previous_embeddings)
        if text in self._intents:
            name, conf = self._intents[text]
            a = type(a)(a.text, IntentResult(name, conf, {name: conf}, name), a.entities, a.cues, a.embedding)
        return a


def test_unsure_intent_is_confirmed_first(backend, understanding):
    nlu = _Scripted(understanding, {"the thing with the stuff": ("order_status", 0.45)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "the thing with the stuff", "yes")
    assert r[0].state == "confirm_intent" and "check on an order" in r[0].text
    assert r[1].state == "collect" and "order number" in r[1].text


def test_unsure_intent_denied(backend, understanding):
    nlu = _Scripted(understanding, {"the thing with the stuff": ("order_status", 0.45)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "the thing with the stuff", "no")
    assert r[1].state == "ask_intent" and "What can I help you with" in r[1].text


def test_summary_after_escalation_is_redacted_and_serialisable(dialog):
    dialog.start()
    talk(dialog, "where is my order", "four five six seven eight", "yes", "yes",
         "my card number is 4111 1111 1111 1111 and I want a person")
    s = dialog.summary()
    # "card" may read as a lost-card report; either way a person takes over
    assert s.escalation_reason in ("human_requested", "human_only_intent")
    assert s.intent == "order_status" and s.entities["order_number"] == "45678"
    assert s.customer["name"] == "Alice Johnson"
    assert any(st.action == "order_lookup" for st in s.steps)
    assert len(s.frustration) == s.turns == 5
    text = json.dumps(s.to_dict())
    assert "4111" not in text and CARD_MASK in text
    assert "Alice Johnson" in s.paragraph and "Transferred because the caller" in s.paragraph
    assert len(s.paragraph.split()) < 80


def test_speaking_helpers(today):
    assert say_digits("0812") == "0 8 1 2"
    assert say_amount(4250, "dollars") == "42 dollars and 50 cents"
    assert say_amount(1200, "pounds") == "12 pounds"
    assert say_date(today, today) == "today"


def test_clearly_off_topic_is_declined_with_an_offer(dialog):
    dialog.start()
    (r,) = talk(dialog, "can you book me a taxi to the airport")
    assert r.state == "offer_human" and "can't help with that" in r.text


def test_replies_serialise_to_json(dialog):
    dialog.start()
    for r in talk(dialog, "i paid forty two dollars on monday for order four five six seven eight", "yes"):
        json.loads(json.dumps(r.to_dict()))


# ---------------------------------------------------------------- no destructive action on a guess


def test_a_goodbye_before_anything_was_done_is_checked_and_no_ends_it(dialog):
    dialog.start()
    first, r = talk(dialog, "okay thanks bye", "no")
    assert first.state == "anything_else" and not first.end_call and first.text == "Is there anything else I can help with?"
    assert first.accepted_intent is None  # the goodbye was not taken
    assert r.end_call and r.state == "ended"


def test_after_a_resolved_request_a_goodbye_ends_the_call_at_once(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven eight", "yes", "oh great, thanks a lot. bye")
    assert r[2].state == "anything_else"
    assert r[3].end_call and "Goodbye" in r[3].text  # after help, the same words are meant


@pytest.mark.parametrize("line", ["Oh great, thanks a lot.", "Thanks for nothing.", "Wonderful, just wonderful."])
def test_sarcasm_is_not_a_goodbye(dialog, line):
    dialog.start()
    (r,) = talk(dialog, line)
    assert not r.end_call and r.escalate is None
    assert r.state == "offer_human" and r.text.startswith("Sorry about that.") and "person" in r.text
    assert r.accepted_intent is None


def test_a_complaint_shaped_goodbye_mid_flow_is_not_a_goodbye(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "one one one one one", "yes", "this is useless, goodbye")
    assert "can't find order" in r[2].text
    assert not r[3].end_call and r[3].state == "offer_human"


def test_a_half_sentence_read_as_a_request_for_a_person_is_confirmed(dialog):
    dialog.start()
    r = talk(dialog, "I want to talk to", "yes")
    assert r[0].intent == "speak_to_human" and r[0].confidence > 0.9  # the model is sure; the words are not there
    assert r[0].escalate is None and r[0].state == "offer_human" and r[0].accepted_intent is None
    assert r[0].text == "Shall I put you through to a person?"
    assert r[1].escalate == "human_requested" and r[1].accepted_intent == "speak_to_human"


def test_an_unsure_request_naming_a_person_is_confirmed_and_no_keeps_the_bot(backend, understanding):
    nlu = _Scripted(understanding, {"the person i spoke to hung up": ("speak_to_human", 0.68)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "the person i spoke to hung up", "no")
    assert r[0].state == "offer_human" and r[0].escalate is None
    assert r[1].state == "ask_intent" and r[1].escalate is None


def test_a_clear_request_for_a_person_is_put_through_at_once(dialog):
    dialog.start()
    (r,) = talk(dialog, "I want to speak to a real person please")
    assert r.escalate == "human_requested" and r.accepted_intent == "speak_to_human"


def test_an_unsure_sensitive_intent_is_confirmed_before_any_hand_over(backend, understanding):
    nlu = _Scripted(understanding, {"the thing with my bill": ("billing_dispute", 0.7)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "the thing with my bill", "yes")
    assert r[0].state == "confirm_intent" and r[0].escalate is None and r[0].accepted_intent is None
    assert r[1].escalate == "human_only_intent" and r[1].accepted_intent == "billing_dispute"


def test_a_policy_sensitive_intent_needs_the_higher_confidence_too(backend, understanding):
    nlu = _Scripted(understanding, {"money back": ("refund", 0.7)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    assert d.on_turn(CallerTurn(text="money back")).state == "offer_human"  # 0.7 >= 0.6: the FAQ answer
    d = TriageDialog(backend, understanding=nlu)
    d.sensitive_intents = frozenset({"refund"})  # the policy hands refunds to a person
    d.start()
    assert d.on_turn(CallerTurn(text="money back")).state == "confirm_intent"


# ---------------------------------------------------------------- what the bot waits for; the keypad


def test_expecting_follows_the_dialog_state(dialog):
    assert dialog.expecting() is None
    dialog.start()
    assert dialog.expecting() is None  # "how can I help?": anything will do
    talk(dialog, "where is my order")
    e = dialog.expecting()
    assert (e.slot, e.digits, e.keypad, e.date, e.email) == ("order_number", (5,), True, False, False)
    talk(dialog, "four five six seven eight")
    assert dialog.expecting().slot == "yes_no"


def test_expecting_an_account_a_pin_and_the_counts_come_from_the_settings(backend, understanding):
    doc = yaml.safe_load(DEFAULT_FLOWS_PATH.read_text())
    doc["settings"].update(account_digits=6, pin_digits=6)
    flows = Flows.from_dict(doc)
    d = TriageDialog(backend, flows=flows, understanding=understanding)
    d.start()
    talk(d, "i forgot my password")
    e = d.expecting()
    assert (e.slot, e.digits, e.email, e.keypad) == ("account_id", (6,), True, True)
    assert "six-digit" in flows.say("password_reset.reask_account")
    d = TriageDialog(backend, flows=flows, understanding=understanding, caller_id="+1 555 555 0103")
    d.start()
    talk(d, "what's my account balance")
    e = d.expecting()
    assert (e.slot, e.digits, e.date, e.keypad) == ("pin_or_date", (6,), True, True)
    assert "six-digit PIN" in d._last_prompt and "key in" in d._last_prompt


def test_bad_digit_counts_are_refused_at_load():
    doc = yaml.safe_load(DEFAULT_FLOWS_PATH.read_text())
    doc["settings"]["order_digits"] = 0
    with pytest.raises(ValueError, match="order_digits"):
        Flows.from_dict(doc)


def test_prompts_for_numbers_say_they_may_be_keyed_in(dialog):
    flows = dialog.flows
    for key in ("order_status.ask_order", "order_status.reask_order", "order_status.not_found",
                "password_reset.ask_account", "password_reset.reask_account", "account_balance.ask_account",
                "account_balance.reask_account", "account_balance.ask_verify", "account_balance.verify_failed"):
        assert "key" in flows.say(key), key


def test_a_keyed_order_number_is_looked_up_without_a_read_back(dialog):
    dialog.start()
    talk(dialog, "where is my order")
    r = dialog.on_turn(CallerTurn(text="45678", keypad=True))
    assert "has shipped" in r.text and r.state == "anything_else"
    assert r.caller_text == "[keypad] 45678" and r.entities["order_number"] == "45678"
    assert dialog.steps[-1] == type(dialog.steps[-1])("order_lookup", "order 45678", "found: shipped")
    transcript = dialog.summary().transcript
    assert {"speaker": "caller", "text": "[keypad] 45678"} in transcript


def test_a_keyed_pin_verifies_and_is_never_kept_in_clear(backend, understanding):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0103")
    d.start()
    talk(d, "what's my account balance")
    r = d.on_turn(CallerTurn(text="2468", keypad=True))
    assert "Carol" in r.text and d.verified
    assert r.caller_text == "[keypad] [PIN]" and "2468" not in json.dumps(r.to_dict())
    assert d.steps[0].detail == "PIN (keypad)"
    assert "2468" not in json.dumps(d.summary().to_dict())


def test_a_spoken_pin_is_masked_in_the_transcript_and_the_entities(backend, understanding):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0103")
    d.start()
    talk(d, "what's my account balance")
    (r,) = talk(d, "my pin is two four six eight")
    assert d.verified and r.caller_text == "my pin is [PIN]"
    assert "2468" not in json.dumps(r.to_dict()) and "2468" not in json.dumps(d.summary().to_dict())


# ---------------------------------------------- numbers across turns, repeats, never looping


def test_digits_said_across_turns_join_into_one_answer(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four five")
    assert r[1].state == "collect" and r[1].text == "Okay. I have 4 5 so far. What's the rest of the order number?"
    # the rest (3) completes the answer now, and so does the whole number said again (5)
    assert dialog.expecting().digits == (3, 5) and dialog.expecting().keypad
    (r2,) = talk(dialog, "six seven eight")
    assert r2.state == "confirm_slot" and "That's order 4 5 6 7 8" in r2.text
    assert "has shipped" in talk(dialog, "yes")[0].text


def test_a_partial_number_is_continued_over_several_turns_or_said_again_whole(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four", "and five six", "seven eight")
    assert "I have 4 so far" in r[1].text and "I have 4 5 6 so far" in r[2].text
    assert "4 5 6 7 8" in r[3].text and r[3].state == "confirm_slot"
    dialog = TriageDialog(dialog.backend, understanding=dialog.nlu)
    dialog.start()
    r = talk(dialog, "where is my order", "four five", "four five six seven eight")  # started over
    assert "That's order 4 5 6 7 8" in r[2].text


def test_a_turn_that_is_not_digits_discards_the_partial(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four five", "hmm I don't have it to hand")
    assert dialog.partial == "" and r[2].state in ("collect", "offer_human")
    assert "4 5" not in r[2].text
    (r3,) = talk(dialog, "six seven eight")  # a fresh number, not the rest of 4 5
    assert "6 7 8" in r3.text and "4 5 6 7 8" not in r3.text


def test_a_short_number_begun_afresh_replaces_the_partial_and_counts_as_a_try(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "one two three four", "one oh two", "three four")
    assert "I have 1 0 2 so far" in r[2].text and dialog.attempts["order_number"] == 1
    assert "That's order 1 0 2 3 4" in r[3].text
    dialog = TriageDialog(dialog.backend, understanding=dialog.nlu)
    dialog.start()
    r = talk(dialog, "where is my order", "one two three four", "one two three", "one two three")
    assert r[3].state == "offer_human"  # the second fresh start reaches max_slot_attempts


def test_asking_to_hear_it_again_keeps_the_partial(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four five", "sorry, can you say that again?", "six seven eight")
    assert r[2].text == r[1].text and "That's order 4 5 6 7 8" in r[3].text


def test_the_rest_keyed_in_joins_the_spoken_part_and_is_read_back(dialog):
    dialog.start()
    talk(dialog, "where is my order", "four five")
    r = dialog.on_turn(CallerTurn(text="678", keypad=True))
    assert r.state == "confirm_slot" and "4 5 6 7 8" in r.text  # part was spoken: checked


def test_for_at_the_edge_of_a_number_is_a_four_when_a_number_is_asked_for(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "for five six seven eight")
    assert "That's order 4 5 6 7 8" in r[1].text


class _MoreOrders:
    """The demo backend with extra order numbers (each the demo order 45678)."""

    def __init__(self, backend, extra):
        self._b, self._extra, self.verifies = backend, set(extra), 0

    def order(self, number):
        return self._b.order("45678") if number in self._extra else self._b.order(number)

    def verify(self, account, pin=None, dob=None):
        self.verifies += 1
        return self._b.verify(account, pin=pin, dob=dob)

    def __getattr__(self, name):
        return getattr(self._b, name)


@pytest.mark.parametrize("heard", ["seven seven two two", "seven seven two two two two", "7 7 7 2 2 2"])
def test_a_repeat_heard_once_too_often_or_too_few_reads_back_the_one_order_that_exists(dialog, heard):
    dialog.start()
    r = talk(dialog, "where is my order", heard)
    assert r[1].state == "confirm_slot" and "That's order 7 7 2 2 2. Is that right?" in r[1].text
    assert "delivered" in talk(dialog, "yes")[0].text  # acted on only once confirmed


def test_two_existing_readings_of_a_repeat_are_not_guessed_between(backend, understanding):
    d = TriageDialog(_MoreOrders(backend, {"77722"}), understanding=understanding)
    d.start()
    r = talk(d, "where is my order", "seven seven seven two two two")  # 77722 and 77222 both exist
    assert r[1].state == "collect" and "didn't get the order number" in r[1].text
    assert d.steps == []  # nothing looked up as the caller's order


def test_a_wrong_length_without_a_repeat_is_re_asked(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "one two three four five six")
    assert r[1].state == "collect" and "didn't get the order number" in r[1].text


def test_an_account_number_one_repeat_short_is_read_back_when_it_exists(backend, understanding):
    class _Accounts(_MoreOrders):
        def customer(self, account_id):
            return self._b.customer("12345678") if account_id == "12344478" else self._b.customer(account_id)

    d = TriageDialog(_Accounts(backend, set()), understanding=understanding)
    d.start()
    r = talk(d, "I forgot my password", "one two three four four seven eight")
    assert r[1].state == "confirm_slot" and "That's account 1 2 3 4 4 4 7 8" in r[1].text


def test_a_pin_of_the_wrong_length_is_never_tried_and_the_caller_is_asked_to_key_it(backend, understanding):
    be = _MoreOrders(backend, set())
    d = TriageDialog(be, understanding=understanding, caller_id="+1 555 555 0102")  # Bob, PIN 1111
    d.start()
    talk(d, "what's my balance")
    (r,) = talk(d, "one one one one one")
    assert r.text == "Sorry, I need all four digits. Please key in your PIN, then press hash."
    assert r.state == "verify" and be.verifies == 0 and d.attempts.get("verify", 0) == 0
    assert "11111" not in json.dumps(r.to_dict()) and not any(s.action == "verify" for s in d.steps)
    r = d.on_turn(CallerTurn(text="1111", keypad=True))
    assert d.verified and "Bob" in r.text and be.verifies == 1


def test_a_pin_said_in_two_groups_is_one_pin(backend, understanding):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0103")
    d.start()
    talk(d, "what's my balance")
    (r,) = talk(d, "two four, six eight")
    assert d.verified and "Carol" in r.text


def test_a_pin_wrong_length_twice_offers_a_person_without_a_failed_verification(backend, understanding):
    d = TriageDialog(backend, understanding=understanding, caller_id="+1 555 555 0102")
    d.start()
    r = talk(d, "what's my balance", "one one one one one", "one one one")
    assert r[2].state == "offer_human" and "person" in r[2].text and not r[2].escalate
    assert d.attempts.get("verify", 0) == 0


def test_a_confirmation_not_understood_twice_offers_a_person(backend, understanding):
    nlu = _Scripted(understanding, {"yes not right": ("out_of_scope", 0.4)})
    d = TriageDialog(backend, understanding=nlu)
    d.start()
    r = talk(d, "where is my order", "four five six seven eight", "yes not right", "yes not right")
    assert r[2].state == "confirm_slot" and "yes or a no" in r[2].text
    assert r[3].state == "offer_human" and r[3].text.startswith("Sorry, I'm still not sure.") and "person" in r[3].text
    # "no" to the person: the number is asked for once more, not "How can I help?"
    (r4,) = talk(d, "no")
    assert r4.state == "collect" and r4.text == "Okay, let's try once more. Please say or key in your order number."


def test_read_backs_rejected_max_slot_attempts_times_offer_a_person(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven nine", "no", "four five six seven nine", "no")
    assert r[2].state == "collect" and "one digit at a time" in r[2].text
    assert r[4].state == "offer_human" and "person" in r[4].text
    assert talk(dialog, "yes")[0].escalate == "human_requested"


def test_corrections_count_as_tries_too(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven nine", "no it's four five six seven one",
             "no it's four five six seven two")
    assert "4 5 6 7 1" in r[2].text and r[2].state == "confirm_slot"
    assert r[3].state == "offer_human"


def test_a_slot_re_asked_without_progress_offers_a_person(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "I don't know", "I'm not sure")
    assert r[1].state == "collect" and r[2].state == "offer_human"
    assert not any(x.escalate for x in r)


def test_a_keyed_order_number_with_a_zero_is_looked_up_not_transferred(dialog):
    dialog.start()
    talk(dialog, "where is my order")
    r = dialog.on_turn(CallerTurn(text="10234", keypad=True))
    assert r.escalate is None and "out for delivery" in r.text


def test_a_partial_number_names_the_number_it_belongs_to(dialog):
    dialog.start()
    r = talk(dialog, "I need to reset my password", "one two three")
    assert r[1].state == "collect"
    assert r[1].text == "Okay. I have 1 2 3 so far. What's the rest of the account number?"
    # the re-prompt on silence repeats the question, which names the number too
    assert dialog.on_turn(CallerTurn(no_input=True)).text == "Are you still there? What's the rest of the account number?"


# ------------------------------------------------- the offer of a person: yes, no, or asked again


def _offered_after_read_backs(d):
    """A person offered after two rejected read-backs (no turn not understood before it)."""
    d.start()
    r = talk(d, "where is my order", "four five six seven nine", "no", "four five six seven nine", "no")
    assert r[-1].state == "offer_human" and d.no_match == 0
    return r[-1]


@pytest.mark.parametrize("line", ["Now, thank you.", "Thank you.", "Thanks anyway.", "I guess so."])
def test_an_answer_to_the_offer_neither_yes_nor_no_is_asked_again_plainly(dialog, line):
    _offered_after_read_backs(dialog)
    (r,) = talk(dialog, line)  # "No, thank you." heard without its "no", thanks alone, a "no" at 0.54
    assert r.text == "Would you like a person? Please say yes or no."
    assert r.state == "offer_human" and not r.end_call and r.escalate is None and r.accepted_intent is None
    assert dialog.no_match == 1  # counted like any confirmation not understood
    (r2,) = talk(dialog, "No, thank you.")
    assert r2.state == "collect" and r2.text == "Okay, let's try once more. Please say or key in your order number."


def test_an_unclear_answer_to_the_offer_counts_towards_the_hand_over_on_not_understood(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "I don't know", "I'm not sure", "Thank you.")
    assert r[2].state == "offer_human" and dialog.no_match == 3
    assert r[3].escalate == "no_match_limit"  # three turns in a row not understood: a person, not a hang-up


def test_a_goodbye_after_the_offer_before_anything_was_done_is_checked_then_the_second_ends(dialog):
    dialog.start()
    r = talk(dialog, "can you book me a taxi to the airport", "No, that's all. Thank you, goodbye.", "Bye.")
    assert r[0].state == "offer_human"
    assert r[1].text == "Is there anything else I can help with?" and not r[1].end_call
    assert r[2].end_call and "Goodbye" in r[2].text
    # thanks alone, twice: asked yes or no, then the goodbye rule (checked, not ended)
    d = TriageDialog(dialog.backend, understanding=dialog.nlu)
    d.start()
    r = talk(d, "can you book me a taxi to the airport", "Thank you.", "Thank you.", "Goodbye.")
    assert r[1].text == "Would you like a person? Please say yes or no."
    assert r[2].text == "Is there anything else I can help with?" and not r[2].end_call
    assert r[3].end_call


def test_an_unsure_yes_to_the_offer_is_asked_again_before_a_transfer(backend, understanding):
    nlu = _Scripted(understanding, {"yeah maybe": ("yes", 0.5)})
    d = TriageDialog(backend, understanding=nlu)
    _offered_after_read_backs(d)
    r = talk(d, "yeah maybe", "yes")
    assert r[0].escalate is None and r[0].state == "offer_human"
    assert r[1].escalate == "human_requested"


def test_the_number_given_to_the_offer_after_failed_tries_is_taken(dialog):
    _offered_after_read_backs(dialog)
    (r,) = talk(dialog, "four five six seven eight")
    assert r.state == "confirm_slot" and r.text == "That's order 4 5 6 7 8. Is that right?"
    assert "has shipped" in talk(dialog, "yes")[0].text


def test_an_unsure_yes_or_no_to_a_read_back_is_asked_yes_or_no(dialog):
    dialog.start()
    r = talk(dialog, "where is my order", "four five six seven eight", "I guess so.", "yes")
    assert r[2].intent == "no" and r[2].confidence < 0.6  # the model's guess
    assert r[2].state == "confirm_slot" and "yes or a no" in r[2].text and "order_number" not in dialog.attempts
    assert "has shipped" in r[3].text


def test_each_scored_turn_keeps_its_own_parts_for_the_trajectory(dialog):
    dialog.start()
    angry = {"pitch_median_hz_z": 2.5, "energy_db_z": 2.0, "pitch_range_st_z": 1.5, "arousal_logit": 3.0}
    talk(dialog, "where is my order", CallerTurn(text="I don't have the number", prosody=angry),
         CallerTurn(text="", no_input=True), CallerTurn(text="45678", keypad=True))
    assert len(dialog.turn_parts) == len(dialog.trajectory.raw) == 4  # the silence and the keyed entry too
    assert all(set(p) == {"text", "prosody", "dialogue", "bias"} for p in dialog.turn_parts)
    assert dialog.turn_parts[1]["prosody"] > dialog.turn_parts[0]["prosody"]
    assert dialog.turn_parts[2]["text"] == 0.0 and dialog.turn_parts[2]["dialogue"] > 0  # a silence: no words
    assert dialog.last_contributions is dialog.turn_parts[-1]  # the keyed entry's own, not the turn before's
    traj = dialog.summary().trajectory
    assert [t["score"] for t in traj] == [round(x, 3) for x in dialog.trajectory.raw]
    assert traj[1]["drove"] == "voice" and traj[1]["parts"] == dialog.turn_parts[1]
