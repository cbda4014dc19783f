"""The escalation policy: validation naming the field, and which rule trips, with what reason."""

import pytest

from calls.events import DecisionEvent
from routing.policy import REASONS, Policy, PolicyError, Signals, decide, load_policy


def test_default_file_loads_and_round_trips():
    p = load_policy()
    assert Policy.from_dict(p.to_dict()) == p


@pytest.mark.parametrize(
    "doc,field",
    [
        ({"frustration": {"threshold": 1.5}}, "frustration_threshold"),
        ({"frustration": {"turns": 0}}, "frustration_turns"),
        ({"frustration": {"speed": 1}}, "frustration.speed"),
        ({"max_no_match": "three"}, "max_no_match"),
        ({"max_bot_seconds": -1}, "max_bot_seconds"),
        ({"dtmf_zero": "yes"}, "dtmf_zero"),
        ({"sensitive_intents": [""]}, "sensitive_intents"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field(doc, field):
    with pytest.raises(PolicyError, match=field):
        Policy.from_dict(doc)


P = Policy(frustration_threshold=0.6, frustration_turns=2, frustration_ceiling=0.85, max_no_match=3,
           max_no_input=3, max_bot_seconds=300, always_human_tiers=("platinum",))


@pytest.mark.parametrize(
    "signals,reason",
    [
        (Signals(dtmf="0"), "dtmf"),
        (Signals(intent="speak_to_human"), "explicit_request"),
        (Signals(intent="fraud_stolen_card"), "sensitive_intent"),
        (Signals(tier="platinum"), "tier"),
        (Signals(frustration=[0.3], frustration_raw=[0.9]), "frustration"),
        (Signals(frustration=[0.65, 0.7], frustration_raw=[0.6, 0.7]), "frustration"),
        (Signals(no_match=3), "no_match"),
        (Signals(no_input=3), "no_input"),
        (Signals(bot_seconds=301), "max_bot_time"),
        (Signals(dialog_escalation="verification_failed"), "sensitive_intent"),
    ],
)
def test_each_rule_trips_with_its_reason(signals, reason):
    d = decide(P, signals)
    assert d is not None and d.action == "transfer" and d.reason == reason and d.reason in REASONS
    assert d.rule and d.policy_version == P.version
    assert isinstance(d.to_event(), DecisionEvent) and d.to_event().to_json()["event"] == "decision"


@pytest.mark.parametrize(
    "signals",
    [
        Signals(),
        Signals(dtmf="5", intent="order_status"),
        Signals(frustration=[0.7], frustration_raw=[0.7]),  # one turn above the threshold is not enough
        Signals(frustration=[0.7, 0.5], frustration_raw=[0.8, 0.5]),  # and it must hold
        Signals(no_match=2, no_input=2, bot_seconds=299, tier="gold"),
    ],
)
def test_a_calm_call_stays_with_the_bot(signals):
    assert decide(P, signals) is None


def test_switched_off_rules_do_not_trip():
    off = Policy(dtmf_zero=False, explicit_request=False, sensitive_intents=())
    assert decide(off, Signals(dtmf="0")) is None
    assert decide(off, Signals(intent="speak_to_human")) is None
    assert decide(off, Signals(intent="fraud_stolen_card")) is None


def test_the_plainest_request_wins_and_the_values_are_kept():
    d = decide(P, Signals(dtmf="0", intent="complaint", frustration=[0.9, 0.9], frustration_raw=[0.9, 0.9]))
    assert d.reason == "dtmf"
    d = decide(P, Signals(frustration=[0.65, 0.7], frustration_raw=[0.6, 0.7]))
    assert d.values == {"scores": [0.65, 0.7]}


def _parts(text=0.0, prosody=0.0, dialogue=0.0, bias=-3.04):
    return {"text": text, "prosody": prosody, "dialogue": dialogue, "bias": bias}


def _score(parts):
    import math

    return 1 / (1 + math.exp(-sum(parts.values())))


@pytest.mark.parametrize("one_part", [
    _parts(text=5.0),  # a misheard calm sentence that reads as a complaint
    _parts(prosody=5.2),  # an unusual voice read as agitated, calm words
    _parts(text=4.3, dialogue=0.8),  # words plus a barge-in: the words alone still carry it
])
def test_one_turn_at_the_ceiling_from_one_part_alone_waits_for_a_second_turn(one_part):
    raw = _score(one_part)
    assert raw >= P.frustration_ceiling
    s = Signals(frustration=[raw], frustration_raw=[raw], frustration_parts=[one_part])
    assert decide(P, s) is None
    # The same again on the next turn: heard twice, it hands the caller over (smoothed, the
    # two-turn rule would still wait: a calm first turn keeps the average under the threshold).
    s = Signals(frustration=[0.05, (0.05 + raw) / 2, ((0.05 + raw) / 2 + raw) / 2], frustration_raw=[0.05, raw, raw],
                frustration_parts=[_parts(), one_part, one_part])
    d = decide(P, s)
    assert d is not None and d.reason == "frustration" and "after one >= 0.6" in d.rule
    assert d.values == {"score": round(raw, 3), "previous": round(raw, 3)}
    # A calm turn between the two spikes: each is one observation again.
    s = Signals(frustration=[0.5, 0.3, 0.6], frustration_raw=[raw, 0.1, raw], frustration_parts=[one_part, _parts(), one_part])
    assert decide(P, s) is None


def test_one_turn_at_the_ceiling_that_two_parts_agree_on_transfers_at_once():
    both = _parts(text=3.8, prosody=3.9)  # angry words said in an agitated voice
    raw = _score(both)
    d = decide(P, Signals(frustration=[raw], frustration_raw=[raw], frustration_parts=[both]))
    assert d is not None and d.reason == "frustration" and "without its strongest part" in d.rule
    assert d.values["without_strongest"] >= P.frustration_threshold


def test_the_ceiling_acts_alone_when_switched_so_or_when_the_parts_are_unknown():
    one = _parts(text=5.0)
    raw = _score(one)
    alone = Policy.from_dict({**P.to_dict(), "frustration": {**P.to_dict()["frustration"], "corroborate": False}})
    assert decide(alone, Signals(frustration=[raw], frustration_raw=[raw], frustration_parts=[one])).reason == "frustration"
    # A call stored before parts were recorded (what-if replays it) keeps the old rule.
    assert decide(P, Signals(frustration=[raw], frustration_raw=[raw], frustration_parts=[{}])).reason == "frustration"
    with pytest.raises(PolicyError, match="frustration_corroborate"):
        Policy.from_dict({"frustration": {"corroborate": "sometimes"}})
