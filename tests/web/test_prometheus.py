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
    assert all(line.startswith(("#", "ivr_", "process_", "python_")) for line in text.splitlines() if line)


def test_process_collectors_stage_histograms_and_watched_figures_are_exported():
    from prometheus_client.parser import text_string_to_metric_families

    from calls.events import StagesEvent

    m = CallMetrics()
    m.call_started("c1")
    m.event("c1", StagesEvent(turn=1, end_of_turn_ms=300.0, asr_ms=120.0, nlu_ms=4.0, tts_first_chunk_ms=80.0))
    m.watch(queue_depth=lambda: 3, store_backlog=lambda: 7,
            media_totals=lambda: {"lost": 2, "late": 1, "concealed": 4},
            asr_totals=lambda: {"runs": 5, "cancelled_queued": 2, "queue_wait_s": 0.75},
            agents_by_presence=lambda: {"available": 2, "on_call": 1}, presences=("available", "on_call", "away"))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(m.render().decode()) for s in fam.samples}
    assert samples[("process_open_fds", ())] > 0
    assert any(name == "python_gc_collections_total" for name, _ in samples)
    assert samples[("ivr_stage_seconds_count", (("stage", "asr"),))] == 1
    assert samples[("ivr_stage_seconds_sum", (("stage", "asr"),))] == 0.12
    assert ("ivr_stage_seconds_count", (("stage", "speech_end_to_audio"),)) not in samples  # None: not observed
    assert samples[("ivr_queue_depth", ())] == 3 and samples[("ivr_store_backlog", ())] == 7
    assert samples[("ivr_rtp_packets_lost_total", ())] == 2
    assert samples[("ivr_rtp_packets_late_total", ())] == 1
    assert samples[("ivr_rtp_frames_concealed_total", ())] == 4
    assert samples[("ivr_asr_runs_total", ())] == 5 and samples[("ivr_asr_cancelled_queued_total", ())] == 2
    assert samples[("ivr_asr_queue_wait_s_total", ())] == 0.75
    assert samples[("ivr_agents", (("presence", "away"),))] == 0
    assert samples[("ivr_agents", (("presence", "available"),))] == 2
