"""`GET /metrics`: one worker's calls counted from their typed events."""

from __future__ import annotations

from calls.events import BotEvent, DecisionEvent, SurveyEvent, TransferAttemptEvent, TurnEvent
from calls.outcome import Outcome
from web.prometheus import CallMetrics


def test_metrics_exposition_counts_calls_escalations_and_latency():
    now = [100.0]
    m = CallMetrics(clock=lambda: now[0])
    m.call_started("x")
    m.event("x", TurnEvent(end=3.0, frustration={"score": 0.7, "smoothed": 0.66}))
    m.event("x", BotEvent(start=3.42))
    m.event("x", DecisionEvent(reason="frustration"))
    now[0] = 112.0
    m.event("x", TransferAttemptEvent(result="answered"))
    m.event("x", SurveyEvent(score=4))
    m.call_ended("x", Outcome.TRANSFERRED)
    m.event("ghost", DecisionEvent(reason="dtmf"))  # an unknown call is ignored
    text = m.render().decode()
    assert "ivr_calls_total 1.0" in text and "ivr_calls_active 0.0" in text
    assert 'ivr_call_outcomes_total{outcome="transferred"} 1.0' in text
    assert 'ivr_escalations_total{reason="frustration"} 1.0' in text and 'reason="dtmf"' not in text
    assert 'ivr_response_seconds_bucket{le="0.5"} 1.0' in text and 'ivr_response_seconds_bucket{le="0.4"} 0.0' in text
    assert 'ivr_time_to_transfer_seconds_bucket{le="15.0"} 1.0' in text and 'ivr_time_to_transfer_seconds_bucket{le="10.0"} 0.0' in text
    assert 'ivr_frustration_at_transfer_bucket{le="0.7"} 1.0' in text
    assert 'ivr_transfer_attempts_total{result="answered"} 1.0' in text
    assert all(line.startswith(("#", "ivr_")) for line in text.splitlines() if line)
