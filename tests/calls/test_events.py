"""Typed call events against captured wire dicts (aiortc's test_sdp.py style: real messages in,
the same bytes out). The wire dicts are a contract: the stored JSON, the Prometheus counters and
`ivr simulate --json` read them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from calls.events import (
    ABSENT,
    EVENT_TYPES,
    BotEvent,
    CallbackRequestedEvent,
    DecisionEvent,
    DtmfEvent,
    EndEvent,
    InterruptedEvent,
    LiveTranscriptEvent,
    NoInputEvent,
    StagesEvent,
    SummaryEvent,
    SurveyEvent,
    SurveyStartedEvent,
    TransferAttemptEvent,
    TransferEvent,
    TurnEvent,
    UnknownEvent,
    event_from_json,
)
from calls.outcome import OUTCOMES, Outcome

FIXTURES = Path(__file__).parent / "fixtures" / "events.jsonl"
LINES = FIXTURES.read_text().splitlines()


def line_of(kind: str, **match) -> str:
    """The first captured line of `kind` whose keys have these values."""
    return next(s for s in LINES if (d := json.loads(s))["event"] == kind and all(d.get(k) == v for k, v in match.items()))


@pytest.mark.parametrize("line", LINES, ids=[json.loads(s)["event"] for s in LINES])
def test_every_captured_event_round_trips_byte_for_byte(line):
    ev = event_from_json(json.loads(line))
    assert json.dumps(ev.to_json()) == line
    assert event_from_json(ev.to_json()) == ev


def test_the_fixtures_cover_every_kind():
    seen = {type(event_from_json(json.loads(s))) for s in LINES}
    assert seen == set(EVENT_TYPES.values()) | {UnknownEvent}


def test_each_kind_reads_as_its_class_with_its_fields():
    by_kind = {}
    for s in LINES:
        by_kind.setdefault(json.loads(s)["event"], event_from_json(json.loads(s)))
    turn = event_from_json(json.loads(line_of("turn", text="I want to talk to")))
    assert isinstance(turn, TurnEvent) and turn.intent == "speak_to_human" and turn.accepted_intent is None
    assert turn.keypad is ABSENT and turn.signals["no_match"] == 0
    assert by_kind["bot"] == BotEvent(start=0.0, text=by_kind["bot"].text, interrupted=False)
    assert by_kind["decision"] == DecisionEvent(action="transfer", reason="frustration",
                                                rule="frustration ceiling: one turn >= 0.85",
                                                values={"score": 0.899}, policy_version=1)
    assert by_kind["summary"].summary["escalation_reason"] == "frustration"
    assert by_kind["transfer"] == TransferEvent(state="hold", reason="frustration")
    assert by_kind["transfer_attempt"] == TransferAttemptEvent(agent="bob", result="busy", status=486)
    assert by_kind["dtmf"] == DtmfEvent(digit="0")
    assert isinstance(by_kind["no_input"], NoInputEvent) and by_kind["no_input"].at == 31.28
    assert isinstance(by_kind["stages"], StagesEvent) and by_kind["stages"].mono["detected"] == 1035.6203
    assert by_kind["live_transcript"] == LiveTranscriptEvent(speaker="caller", text="Hi, my order never arrived.")
    assert by_kind["survey_started"] == SurveyStartedEvent() and by_kind["survey"] == SurveyEvent(score=4)
    assert by_kind["callback_requested"] == CallbackRequestedEvent()
    assert by_kind["end"] == EndEvent(outcome=Outcome.BOT_RESOLVED)
    assert by_kind["interrupted"] == InterruptedEvent(worker="worker-2", reason="worker_died", found_by="worker-1")
    assert by_kind["hold_music"] == UnknownEvent(data={"event": "hold_music", "track": "jazz", "seconds": 12})


def test_the_events_as_the_producers_make_them():
    """Built in code, each gives the dict its producer wrote before there were types."""
    assert TransferEvent(state="bridged", agent="alice", time_to_bridge_s=4.212).to_json() == json.loads(line_of("transfer", state="bridged"))
    assert TransferAttemptEvent(agent="alice", result="answered", answered_after_s=2.504,
                                mode="refer").to_json() == json.loads(line_of("transfer_attempt", mode="refer"))
    assert EndEvent(outcome=Outcome.TRANSFERRED).to_json() == {"event": "end", "outcome": "transferred"}
    assert type(EndEvent(outcome=Outcome.TRANSFERRED).to_json()["outcome"]) is str  # no enum on the wire
    assert SurveyEvent(score=None).to_json() == {"event": "survey", "score": None}  # None is a value, not absence
    assert CallbackRequestedEvent().to_json() == {"event": "callback_requested"}


def test_a_turn_merges_the_responders_fields_as_the_old_dict_update_did():
    """BotTurnProcessor: the transcript's fields, then the responder's (a masked keyed entry wins)."""
    base = {"index": 2, "start": 21.4, "end": 24.1, "text": "45678", "prosody": None}
    line = line_of("turn", keypad=True)
    fields = json.loads(line)
    fields = {k: v for k, v in fields.items() if k not in ("event", "index", "start", "end", "prosody")}
    old = {"event": "turn", **base}
    old.update(fields)
    assert json.dumps(TurnEvent.from_json({**base, **fields}).to_json()) == json.dumps(old) == line


def test_unknown_keys_are_kept_and_missing_ones_take_defaults():
    ev = event_from_json({"event": "bot", "start": 3.4, "text": "Hi", "interrupted": False, "voice": "joe"})
    assert ev.extra == {"voice": "joe"} and ev.to_json()["voice"] == "joe"
    partial = event_from_json({"event": "decision", "reason": "dtmf"})  # hand-made, or stored long ago
    assert isinstance(partial, DecisionEvent) and partial.reason == "dtmf" and partial.policy_version is None
    assert isinstance(event_from_json({"no": "kind"}), UnknownEvent)
    assert event_from_json({"event": 7}).to_json() == {"event": 7}


def test_events_are_frozen_and_replaced_not_mutated():
    d = DecisionEvent(reason="frustration", policy_version=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.reason = "dtmf"  # type: ignore[misc]
    assert dataclasses.replace(d, policy_version=3).to_json()["policy_version"] == 3


def test_outcome_is_one_str_enum_with_the_stores_values():
    assert OUTCOMES == ("bot_resolved", "transferred", "caller_hung_up", "abandoned", "interrupted")
    assert Outcome.BOT_RESOLVED == "bot_resolved" and f"{Outcome.ABANDONED}" == "abandoned"
    assert json.dumps({"o": Outcome.TRANSFERRED}) == '{"o": "transferred"}'


def test_summary_is_sent_flat():
    ev = SummaryEvent(summary={"paragraph": "p", "intent": "order_status", "escalation_reason": "dtmf"})
    assert ev.to_json() == {"event": "summary", "paragraph": "p", "intent": "order_status", "escalation_reason": "dtmf"}
