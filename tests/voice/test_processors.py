"""voice.processors: the typed events it emits (key for key the dicts they replaced) and the typed frame fields."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pipecat.tests.utils import run_test

from calls.events import CallEvent, DecisionEvent, TurnEvent
from calls.outcome import Outcome
from voice import processors
from voice.frames import BotReplyEndFrame, CallerTurnFrame

CAPTURED = next(s for s in (Path(__file__).parents[1] / "calls" / "fixtures" / "events.jsonl").read_text().splitlines()
                if json.loads(s)["event"] == "stages")


def test_the_stages_event_of_a_turn(monkeypatch):
    """voice.processors.stages_event on a turn frame: the same keys, in the same order, as before."""
    monkeypatch.setattr(processors.time, "monotonic", lambda: 1035.8135)
    turn = CallerTurnFrame(index=1, start=2.0, end=4.0, audio=np.zeros(0, dtype=np.int16), detected_at=4.42,
                           asr_seconds=0.1513, asr_window="fitted", speculative=True, asr_dropped=1,
                           mono={"end_seen": 1035.2011, "detected": 1035.6203})
    ev = processors.stages_event(turn, 0.0124, None, 4.61)
    assert json.dumps(ev.to_json()) == CAPTURED


class _Bot:
    """A responder whose turn fields mask the transcript, as the dialog does for a keyed PIN."""

    def greeting(self):
        return processors.Reply("Hello.")

    def on_turn(self, turn):
        return processors.Reply("Goodbye.", end_call=True, outcome=Outcome.TRANSFERRED,
                                turn_fields={"intent": "pin", "text": "[keypad] ****", "keypad": True},
                                events=[DecisionEvent(reason="dtmf", policy_version=2)])

    def on_dtmf(self, digit):
        return None


async def test_the_bots_turn_emits_typed_events_and_carries_the_outcome_on_the_end_frame():
    events: list[CallEvent] = []
    bot = processors.BotTurnProcessor(_Bot(), events.append, processors.Progress())
    turn = CallerTurnFrame(index=3, start=1.004, end=2.996, text="1234", keypad=True)
    down, _ = await run_test(bot, frames_to_send=[turn])
    (ev, decision) = events
    assert isinstance(ev, TurnEvent) and isinstance(decision, DecisionEvent)
    assert json.dumps(ev.to_json()) == json.dumps({"event": "turn", "index": 3, "start": 1.0, "end": 3.0,
                                                   "text": "[keypad] ****", "prosody": None, "intent": "pin",
                                                   "keypad": True})
    (end,) = [f for f in down if isinstance(f, BotReplyEndFrame) and f.end_call]
    assert end.outcome == Outcome.TRANSFERRED and "outcome" not in end.metadata
