"""The real bot (dialog + policy) transfers on what the dialog accepted, never on the classifier's
raw guess, and the what-if replay of its stored turns decides the same way."""

from __future__ import annotations

import dataclasses
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ivr.triage import TriageResponder  # noqa: E402
from nlu.backend import open_demo_backend  # noqa: E402
from routing.policy import Policy  # noqa: E402
from routing.whatif import replay  # noqa: E402
from voice.frames import CallerTurnFrame  # noqa: E402


@pytest.fixture()
def bot():
    be = open_demo_backend(":memory:")
    r = TriageResponder(be, Policy(), clock=lambda: 1.0)
    r.greeting()
    yield r
    be.close()


def say(bot, *lines, keypad=False):
    """The replies, and the turn events as BotTurnProcessor writes them (text, then the fields)."""
    replies, events = [], []
    for i, line in enumerate(lines):
        reply = bot.on_turn(CallerTurnFrame(index=i, text=line, keypad=keypad))
        replies.append(reply)
        events.append({"event": "turn", "index": i, "text": line, **reply.turn_fields})
        for ev in reply.events:
            events.append(ev.to_json())  # as stored: the replay reads the wire format
    return replies, events


def test_a_half_sentence_is_not_transferred_and_the_replay_agrees(bot):
    replies, events = say(bot, "I want to talk to")
    assert not replies[0].end_call and bot.decision is None
    turn = events[0]
    assert turn["intent"] == "speak_to_human" and turn["confidence"] > 0.9  # the JSON contract: the classifier's
    assert turn["accepted_intent"] is None and turn["signals"]["intent"] is None  # what the policy saw
    assert replay(events, Policy()) == (None, None)
    replies, more = say(bot, "yes please")
    assert replies[0].outcome == "transferred" and bot.decision.reason == "explicit_request"
    assert replay(events + more, Policy()) == ("explicit_request", 1)


def test_stored_turns_without_the_accepted_intent_replay_as_they_were_decided():
    old = [{"event": "turn", "intent": "speak_to_human", "frustration": {"score": 0.1, "smoothed": 0.1},
            "signals": {"no_match": 0}}]
    assert replay(old, Policy()) == ("explicit_request", 0)


def test_the_responder_says_what_it_expects_until_its_part_is_over(bot):
    assert bot.expecting() is None
    say(bot, "where is my order")
    assert bot.expecting().slot == "order_number" and bot.expecting().keypad
    replies, events = say(bot, "45678", keypad=True)
    assert "shipped" in replies[0].text
    assert events[0]["text"] == "[keypad] 45678" and events[0]["keypad"] is True
    assert bot.expecting().slot == "yes_no"  # "anything else?"
    say(bot, "I want to speak to a real person please")
    assert bot.decision is not None and bot.expecting() is None


def test_a_caller_leaving_after_being_helped_is_not_transferred_for_frustration(bot):
    # tune split, t-order-sarcasm: "No, that's all. Thank you. Goodbye." after the order's status,
    # in a voice the arousal model read as raised (one turn over the 0.85 ceiling): transferred
    say(bot, "where is my order", "four five six seven eight", "yes")
    # The ceiling acting on the voice alone (a policy that does not ask two parts to agree).
    bot.policy = dataclasses.replace(bot.policy, frustration_corroborate=False)
    reply = bot.on_turn(CallerTurnFrame(index=3, text="No, that's all. Thank you. Goodbye.", prosody={"arousal_logit": 4.0}))
    assert bot.dialog.trajectory.raw[-1] >= Policy().frustration_ceiling  # the rule would have fired
    assert reply.end_call and reply.outcome == "bot_resolved" and bot.decision is None
    assert reply.turn_fields["frustration_not_acted_on"]


def test_a_frustrated_goodbye_before_anything_was_done_is_still_handed_on(bot):
    say(bot, "where is my order")
    bot.on_turn(CallerTurnFrame(index=1, text="This is useless. Goodbye.", prosody={"arousal_logit": 4.0}))
    assert bot.decision is not None and bot.decision.reason == "frustration"
    assert "without its strongest part" in bot.decision.rule  # words and voice agreed


def test_an_agitated_voice_alone_on_one_goodbye_gets_anything_else_not_a_transfer(bot):
    say(bot, "where is my order")
    # One turn, one channel (the voice at full agitation, plain words): the ceiling's score, but
    # nothing else says so; and not a goodbye to hang up on either, since nothing was done.
    reply = bot.on_turn(CallerTurnFrame(index=1, text="Goodbye.", prosody={"arousal_logit": 4.0}))
    assert bot.dialog.trajectory.raw[-1] >= Policy().frustration_ceiling
    assert bot.decision is None and not reply.end_call and "anything else" in reply.text

def test_the_keypad_menu_is_offered_before_the_policy_transfers_on_turns_not_understood(bot):
    """The policy's max_no_match (3) would hand the caller over on the dialog's third turn not
    understood; the dialog offers its keypad menu there instead, and the policy waits for it."""
    replies, events = say(bot, "zxq blorp fnarg", "purple telescope banana wednesday", "glorp the the the")
    assert bot.decision is None and "Press 1 to check on an order" in replies[-1].text
    assert replay(events, Policy()) == (None, None)
    keyed, more = say(bot, "1", keypad=True)
    assert bot.decision is None and "order number" in keyed[0].text


def test_a_turn_not_understood_after_the_keypad_menu_is_transferred(bot):
    replies, events = say(bot, "zxq blorp fnarg", "purple telescope banana wednesday", "glorp the the the", "blorp")
    assert replies[-1].outcome == "transferred" and bot.decision.reason == "no_match"
    assert replay(events, Policy()) == ("no_match", 3)
