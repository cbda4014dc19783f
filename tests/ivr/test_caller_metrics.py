"""The unseen-caller figures on hand-built calls: each counts what happened, and only that."""

import pytest

from ivr.tools.caller_metrics import (
    Turn,
    aggregate,
    assign,
    cut_in,
    dead_air,
    need_met,
    routed,
    score_call,
    wer_words,
    word_errors,
)
from ivr.tools.caller_script import parse_set
from voice.scripted_caller import FedLine


def _spec(**kw):
    base = {"id": "c", "intent": "order_status", "voice": "v", "opening": "Where is my order?",
            "order": {"digits": "77222", "say": "seven seven, {pause 1.0} two two two"}}
    return parse_set({"voices": {"v": {"engine": "piper"}}, "tune": [{**base, **kw}]}).callers[0]


# A line fed at 10.0 s: "seven seven" sounds 10.05-10.9, the pause, "two two two" 11.95-13.0.
GROUPS = FedLine(1, "order", 10.0, 13.05, ((10.05, 10.9), (11.95, 13.0)))


def test_a_turn_ended_at_the_pause_is_a_cut_in():
    first, rest = Turn(10.02, 10.92, "77."), Turn(11.9, 13.0, "222.")
    assert cut_in(GROUPS, [first, rest], bot_audio=[])


def test_one_turn_over_the_whole_line_is_not():
    assert not cut_in(GROUPS, [Turn(10.02, 12.98, "77222.")], bot_audio=[(13.4, 15.0)])


def test_the_bot_talking_inside_the_line_is_a_cut_in_even_if_the_turn_held():
    assert cut_in(GROUPS, [Turn(10.02, 12.98, "77222.")], bot_audio=[(11.5, 12.1)])
    assert not cut_in(GROUPS, [Turn(10.02, 12.98, "77222.")], bot_audio=[(5.0, 9.8)])  # before it began


def test_a_vad_tail_a_little_short_of_the_last_sound_is_not_a_cut_in():
    assert not cut_in(GROUPS, [Turn(10.02, 12.8, "77222.")], bot_audio=[])


def test_keyed_lines_are_never_cut_in():
    keyed = FedLine(2, "order", 10.0, 12.0, (), dtmf="77222#")
    assert not cut_in(keyed, [Turn(10.0, 10.5, "")], bot_audio=[(10.6, 11.0)])


def test_turns_go_to_the_line_they_overlap():
    opening = FedLine(0, "opening", 5.0, 7.0, ((5.05, 6.95),))
    got = assign([opening, GROUPS], [Turn(5.0, 6.9, "a"), Turn(10.0, 10.9, "b"), Turn(12.0, 13.0, "c"),
                                     Turn(30.0, 31.0, "noise")])
    assert [t.text for t in got[0]] == ["a"] and [t.text for t in got[1]] == ["b", "c"]


def test_dead_air_is_last_sound_to_first_bot_audio_after_it():
    assert dead_air(GROUPS, [(2.0, 4.0), (13.45, 14.0), (14.0, 15.0)]) == pytest.approx(0.45)
    assert dead_air(GROUPS, [(2.0, 4.0)]) is None


def test_wer_reads_double_and_oh_as_digits():
    assert wer_words("double seven, triple two") == "seven seven two two two".split()
    assert wer_words("one oh two") == "one zero two".split()
    assert wer_words("Oh brilliant, another robot.") == "oh brilliant another robot".split()
    assert word_errors("seven seven, two two two", "77222.") == (0, 5)
    assert word_errors("seven seven, two two two", "77. 22.") == (1, 5)
    assert word_errors("where is my order", "") == (4, 4)


def _events(*turns, decision=None):
    evs = [{"event": "bot", "start": 0.0, "text": "Hi"}]
    for start, end, text, intent in turns:
        evs.append({"event": "turn", "start": start, "end": end, "text": text, "intent": intent})
    if decision:
        evs.append({"event": "decision", **decision})
    return evs


OPENING = FedLine(0, "opening", 5.0, 6.5, ((5.05, 6.45),))
FOUND = [{"action": "order_lookup", "detail": "order 77222", "result": "found: delivered"}]


def test_a_calm_routine_call_scores_right():
    spec = _spec()
    one_turn = FedLine(1, "order", 10.0, 13.05, ((10.05, 10.9), (11.95, 13.0)))
    events = _events((5.0, 6.45, "Where is my order?", "order_status"), (10.0, 13.0, "77222.", None))
    s = score_call(spec, events, [OPENING, one_turn], [(0.0, 4.5), (6.9, 8.0), (13.4, 15.0)], "bot_resolved", FOUND)
    assert s.routed_right and s.first_intent_right and not s.premature_end
    assert s.cut_ins == 0 and s.cut_ins_paused == 0 and s.paused_lines == 1
    assert (s.word_errors, s.ref_words) == (0, 9)
    assert s.dead_air == [pytest.approx(0.45), pytest.approx(0.4)]


def test_a_cut_in_call_that_ends_in_a_no_match_transfer():
    spec = _spec()
    events = _events((5.0, 6.45, "Where is my order?", "order_status"), (10.0, 10.9, "77.", None),
                     (11.9, 13.0, "222.", None), decision={"reason": "no_match", "values": {}})
    s = score_call(spec, events, [OPENING, GROUPS], [(0.0, 4.5), (6.9, 8.0), (11.3, 11.9)], "transferred", [])
    assert not s.routed_right and "transferred for no_match" in s.why and "cut in" in s.why
    assert s.cut_ins == 1 and s.cut_ins_paused == 1 and not s.premature_end
    assert s.dead_air == [pytest.approx(0.45)]  # the cut line has no dead air: the bot was early


def test_a_goodbye_hang_up_before_the_need_is_premature_and_first_intent_counts_the_need_line():
    spec = _spec(preamble="Oh brilliant, another robot.")
    pre = FedLine(0, "preamble", 5.0, 6.5, ((5.05, 6.45),))
    events = _events((5.0, 6.45, "Oh brilliant, another robot.", "goodbye"))
    s = score_call(spec, events, [pre], [(0.0, 4.5), (6.9, 8.0)], "bot_resolved", [])
    assert s.premature_end and not s.routed_right and s.first_intent is None and not s.first_intent_right


def test_routing_of_hand_offs_needs_the_reason_and_the_intent():
    fraud = _spec(intent="fraud_stolen_card", order=None)
    ok = {"reason": "sensitive_intent", "values": {"intent": "fraud_stolen_card"}}
    assert routed(fraud, "transferred", ok, []) == (True, "")
    assert routed(fraud, "transferred", {"reason": "sensitive_intent", "values": {"intent": "complaint"}}, [])[0] is False
    assert routed(fraud, "transferred", {"reason": "frustration", "values": {}}, [])[0] is False
    assert routed(fraud, "bot_resolved", None, [])[0] is False
    human = _spec(intent="speak_to_human", order=None)
    assert routed(human, "transferred", {"reason": "explicit_request", "values": {"intent": "speak_to_human"}}, [])[0]


def test_the_need_is_met_only_for_the_callers_own_number():
    spec = _spec()
    assert need_met(spec, FOUND)
    assert not need_met(spec, [{"action": "order_lookup", "detail": "order 7722", "result": "not_found"}])
    assert not need_met(spec, [{"action": "order_lookup", "detail": "order 45678", "result": "found: shipped"}])
    assert routed(spec, "transferred", {"reason": "no_match"}, FOUND)[0] is False  # met, then handed on anyway


def test_aggregate_pools_over_calls():
    spec = _spec()
    good = score_call(spec, _events((5.0, 6.45, "Where is my order?", "order_status")), [OPENING],
                      [(6.9, 8.0)], "bot_resolved", FOUND)
    bad = score_call(spec, _events((5.0, 6.45, "Where is my car?", "out_of_scope")), [OPENING],
                     [(7.1, 8.0)], "bot_resolved", [])
    agg = aggregate([good, bad])
    assert agg["calls"] == 2 and agg["routed_right_pct"] == 50.0 and agg["first_intent_pct"] == 50.0
    assert agg["premature_ends"] == 1 and agg["wer_pct"] == 12.5 and agg["dead_air_mean_s"] == pytest.approx(0.55)
