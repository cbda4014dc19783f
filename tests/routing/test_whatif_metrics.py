"""What-if replays (pure) and the Prometheus exposition of one worker's calls."""

from __future__ import annotations

from routing.policy import Policy
from web.prometheus import CallMetrics
from routing.whatif import replay, what_if


def turn(score, intent="order_status", **signals):
    return {"event": "turn", "intent": intent, "frustration": {"score": score, "smoothed": score}, "signals": signals}


def test_replay_finds_the_first_turn_a_policy_trips_on():
    events = [turn(0.3), turn(0.65), turn(0.7)]
    assert replay(events, Policy()) == ("frustration", 2)
    assert replay(events, Policy(frustration_turns=1)) == ("frustration", 1)
    assert replay(events, Policy(frustration_threshold=0.9)) == (None, None)


def test_replay_reads_the_stored_parts_so_a_one_channel_spike_is_replayed_as_the_policy_saw_it():
    # Stored by an earlier policy that transferred on the ceiling: the words alone drove it.
    spike = {**turn(0.88), "frustration": {"score": 0.88, "smoothed": 0.88,
                                           "parts": {"text": 5.0, "prosody": 0.0, "dialogue": 0.0, "bias": -3.04}}}
    assert replay([spike], Policy()) == (None, None)
    assert replay([spike], Policy(frustration_corroborate=False)) == ("frustration", 0)
    assert replay([spike, spike], Policy()) == ("frustration", 1)
    assert replay([turn(0.88)], Policy()) == ("frustration", 0)  # stored without parts: the ceiling alone


def test_replay_covers_keys_requests_counters_and_the_dialogs_own_hand_over():
    assert replay([turn(0.1), {"event": "dtmf", "digit": "0"}], Policy()) == ("dtmf", 0)
    assert replay([turn(0.1), {"event": "dtmf", "digit": "0"}], Policy(dtmf_zero=False)) == (None, None)
    assert replay([turn(0.1, intent="speak_to_human")], Policy()) == ("explicit_request", 0)
    assert replay([turn(0.1, intent="speak_to_human")], Policy(explicit_request=False)) == (None, None)
    no_match = [turn(0.1, intent="out_of_scope", no_match=n) for n in (1, 2, 3)]
    assert replay(no_match, Policy()) == ("no_match", 2) and replay(no_match, Policy(max_no_match=4)) == (None, None)
    assert replay([turn(0.1, bot_seconds=400.0)], Policy()) == ("max_bot_time", 0)
    assert replay([turn(0.1, tier="platinum")], Policy(always_human_tiers=("platinum",))) == ("tier", 0)
    assert replay([turn(0.1, dialog_escalation="verification_failed")], Policy()) == ("sensitive_intent", 0)
    silences = [{"event": "no_input"}] * 3  # calls stored before turns carried their counters
    assert replay(silences, Policy()) == ("no_input", 2)


def test_what_if_counts_and_lists_the_calls_that_change():
    calls = [
        {"id": "a", "outcome": "bot_resolved", "escalation_reason": None, "events": [turn(0.5), turn(0.5)]},
        {"id": "b", "outcome": "transferred", "escalation_reason": "frustration", "events": [turn(0.7), turn(0.8)]},
        {"id": "c", "outcome": "transferred", "escalation_reason": "dtmf", "events": [{"event": "dtmf", "digit": "0"}]},
    ]
    out = what_if(calls, Policy(frustration_threshold=0.45)).to_dict()
    assert (out["transferred_before"], out["transferred_after"]) == (2, 3)
    assert (out["containment_before"], out["containment_after"]) == (round(1 / 3, 4), 0.0)
    assert [c["call_id"] for c in out["changed"]] == ["a"]
    out = what_if(calls, Policy(frustration_threshold=0.9, frustration_ceiling=0.95, dtmf_zero=False)).to_dict()
    assert out["transferred_after"] == 0 and {c["call_id"] for c in out["changed"]} == {"b", "c"}
    assert out["containment_after"] == 1.0


def test_metrics_exposition_counts_calls_escalations_and_latency():
    now = [100.0]
    m = CallMetrics(clock=lambda: now[0])
    m.call_started("x")
    m.event("x", {"event": "turn", "end": 3.0, "frustration": {"score": 0.7, "smoothed": 0.66}})
    m.event("x", {"event": "bot", "start": 3.42})
    m.event("x", {"event": "decision", "reason": "frustration"})
    now[0] = 112.0
    m.event("x", {"event": "transfer_attempt", "result": "answered"})
    m.event("x", {"event": "survey", "score": 4})
    m.call_ended("x", "transferred")
    m.event("ghost", {"event": "decision", "reason": "dtmf"})  # an unknown call is ignored
    text = m.render().decode()
    assert "ivr_calls_total 1.0" in text and "ivr_calls_active 0.0" in text
    assert 'ivr_call_outcomes_total{outcome="transferred"} 1.0' in text
    assert 'ivr_escalations_total{reason="frustration"} 1.0' in text and 'reason="dtmf"' not in text
    assert 'ivr_response_seconds_bucket{le="0.5"} 1.0' in text and 'ivr_response_seconds_bucket{le="0.4"} 0.0' in text
    assert 'ivr_time_to_transfer_seconds_bucket{le="15.0"} 1.0' in text and 'ivr_time_to_transfer_seconds_bucket{le="10.0"} 0.0' in text
    assert 'ivr_frustration_at_transfer_bucket{le="0.7"} 1.0' in text
    assert 'ivr_transfer_attempts_total{result="answered"} 1.0' in text
    assert all(line.startswith(("#", "ivr_")) for line in text.splitlines() if line)
