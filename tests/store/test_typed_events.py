"""The store takes typed call events (calls.events) as it takes their wire dicts: same rows, same JSON."""

from __future__ import annotations

from calls.events import BotEvent, DecisionEvent, EndEvent, SummaryEvent, TurnEvent
from calls.outcome import Outcome
from store import Store


async def test_a_typed_event_is_stored_as_its_wire_dict(tmp_path):
    events = [
        BotEvent(start=0.0, text="Hello, how can I help?"),
        TurnEvent(index=0, start=1.0, end=2.5, text="get me a person", intent="speak_to_human", confidence=0.9,
                  accepted_intent="speak_to_human", entities={}, frustration={"score": 0.2, "smoothed": 0.2}),
        DecisionEvent(reason="explicit_request", rule="explicit_request", values={}, policy_version=1),
        SummaryEvent(summary={"paragraph": "Wants a person.", "intent": "speak_to_human",
                              "escalation_reason": "explicit_request"}),
        EndEvent(outcome=Outcome.TRANSFERRED),
    ]
    stores = [Store(f"sqlite:///{tmp_path / name}.db") for name in ("typed", "dicts")]
    try:
        ids = []
        for s, as_dict in zip(stores, (False, True)):
            cid = s.call_started("sip-1", "+15551234567")
            for ev in events:
                s.record_event(cid, ev.to_json() if as_dict else ev)
            s.call_ended(cid, Outcome.TRANSFERRED)
            await s.flush()
            assert s.write_errors == 0, s.last_write_error
            ids.append(cid)
        typed, dicts = (s.get_events(cid) for s, cid in zip(stores, ids))
        strip = lambda evs: [{k: v for k, v in e.items() if k not in ("seq", "at")} for e in evs]  # noqa: E731
        assert strip(typed) == strip(dicts) == [ev.to_json() for ev in events]
        call = stores[0].get_call(ids[0])
        assert call["decision"]["reason"] == "explicit_request" and call["summary"]["paragraph"] == "Wants a person."
        assert stores[0].list_calls()[0]["outcome"] == "transferred"
    finally:
        for s in stores:
            s.close()
