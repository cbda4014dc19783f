"""The callback queue's decisions: where to dial, when to try again, when to give up, who goes first."""

from datetime import datetime, timedelta, timezone

import pytest

from routing.callbacks import (Callback, CallbackConfig, after_agent, after_caller, callback_number, dial_uri, failure_result, is_due,
                               next_callback, retry_delay, returning_line)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def test_dial_uri_through_a_trunk_or_straight_to_the_callers_phone():
    assert dial_uri("+15551234567", "sip:{number}@trunk.example.com") == "sip:+15551234567@trunk.example.com"
    assert dial_uri("+15551234567", "sip:gw.example.com:5080") == "sip:+15551234567@gw.example.com:5080"
    assert dial_uri("sip:+15551234567@10.0.0.5:5062", "sip:{number}@trunk") == "sip:+15551234567@trunk"
    assert dial_uri("sip:bob@127.0.0.1:5099", None) == "sip:bob@127.0.0.1:5099"


@pytest.mark.parametrize("number, trunk", [("+1555", None), ("12; rm -rf", "sip:{number}@t"), ("", "sip:{number}@t"),
                                           ("sip:bob@host", "sip:{number}@t")])
def test_dial_uri_refuses_what_it_cannot_dial(number, trunk):
    with pytest.raises(ValueError, match="callback"):
        dial_uri(number, trunk)


def test_backoff_doubles_and_is_capped():
    cfg = CallbackConfig(backoff_s=60, backoff_max_s=200)
    assert [retry_delay(n, cfg) for n in (1, 2, 3, 4)] == [60, 120, 200, 200]


def test_an_unanswered_caller_is_retried_then_failed():
    cfg = CallbackConfig(max_attempts=3, backoff_s=10)
    first = after_caller(0, "no_answer", NOW, cfg)
    assert (first.status, first.attempts, first.next_try_at) == ("pending", 1, NOW + timedelta(seconds=10))
    second = after_caller(1, "busy", NOW, cfg)
    assert (second.status, second.next_try_at) == ("pending", NOW + timedelta(seconds=20))
    last = after_caller(2, "no_answer", NOW, cfg)
    assert (last.status, last.attempts, last.next_try_at) == ("failed", 3, None)
    assert after_caller(2, "answered", NOW, cfg).status == "done"


def test_an_agent_who_does_not_answer_costs_the_caller_no_attempt():
    step = after_agent(Callback("c", "+1", attempts=1), "no_answer", NOW)
    assert (step.status, step.attempts, step.next_try_at, step.result) == ("pending", 1, NOW, "agent_no_answer")


def test_the_oldest_due_callback_an_agent_is_free_for_goes_first():
    billing, orders = Callback("b", "+1", skill="billing"), Callback("o", "+2", skill="orders")
    free = {"orders", None}.__contains__
    assert next_callback([billing, orders], free, lambda s: True) is orders
    assert next_callback([billing], free, lambda s: True) is None
    # a skill nobody is signed in with falls back to anyone, as for a live call
    assert next_callback([billing], free, lambda s: s != "billing") is billing


def test_due_and_failures_and_the_line():
    assert is_due(Callback("a", "+1"), NOW) and not is_due(Callback("a", "+1", next_try_at=NOW + timedelta(1)), NOW)
    assert [failure_result(s) for s in (408, 486, 603, 500)] == ["no_answer", "busy", "declined", "failed"]
    assert returning_line("Acme") == "This is Acme returning your call."


def test_config_refuses_nonsense():
    with pytest.raises(ValueError, match="max_attempts"):
        CallbackConfig(max_attempts=0)
    with pytest.raises(ValueError, match="trunk_uri"):
        CallbackConfig(trunk_uri="trunk.example.com")


def test_the_number_stored_is_the_callers_phone_or_their_number_for_a_trunk():
    from types import SimpleNamespace

    call = SimpleNamespace(remote_uri="sip:+15551234567@pbx.example.com",
                           dialog=SimpleNamespace(remote_target="sip:+15551234567@10.0.0.9:5062"))
    assert callback_number(call, CallbackConfig()) == "sip:+15551234567@10.0.0.9:5062"
    assert callback_number(call, CallbackConfig(trunk_uri="sip:{number}@trunk")) == "+15551234567"
    anonymous = SimpleNamespace(remote_uri="sip:anonymous@pbx", dialog=None)
    assert callback_number(anonymous, CallbackConfig(trunk_uri="sip:{number}@trunk")) == "sip:anonymous@pbx"
