"""What-if replays (pure): stored events, as the store gives them, and typed ones."""

from __future__ import annotations

from calls.events import DtmfEvent, TurnEvent, event_from_json
from routing.policy import Policy
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


def test_replay_takes_typed_events_as_it_takes_stored_ones():
    stored = [turn(0.1), {"event": "bot", "text": "Sure."}, {"event": "dtmf", "digit": "0"}]
    typed = [event_from_json(e) for e in stored]
    assert isinstance(typed[0], TurnEvent) and isinstance(typed[2], DtmfEvent)
    assert replay(typed, Policy()) == replay(stored, Policy()) == ("dtmf", 0)
