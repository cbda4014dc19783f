"""`GET /metrics`: this worker's call counters and latency histograms in Prometheus text format.

Counted as the events happen (not queried from the store at scrape time), so every worker
exports only its own calls and Prometheus sums the workers, as it expects. Names are prefixed
``ivr_``; counters get ``_total`` from the client library.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from calls.events import BotEvent, CallEvent, DecisionEvent, SurveyEvent, TransferAttemptEvent, TurnEvent

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)
_TRANSFER_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300)
_SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class CallMetrics:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.calls = Counter("ivr_calls", "Calls answered by this worker", registry=r)
        self.active = Gauge("ivr_calls_active", "Calls in progress on this worker", registry=r)
        self.outcomes = Counter("ivr_call_outcomes", "Calls ended, by outcome", ["outcome"], registry=r)
        self.escalations = Counter("ivr_escalations", "Policy transfers, by reason", ["reason"], registry=r)
        self.attempts = Counter("ivr_transfer_attempts", "Agent INVITEs, by result", ["result"], registry=r)
        self.turns = Counter("ivr_caller_turns", "Caller turns understood", registry=r)
        self.response = Histogram("ivr_response_seconds", "End of a caller turn to the start of the bot's reply "
                                  "(call media time)", buckets=_LATENCY_BUCKETS, registry=r)
        self.to_transfer = Histogram("ivr_time_to_transfer_seconds", "Policy decision to an agent answering",
                                     buckets=_TRANSFER_BUCKETS, registry=r)
        self.frustration = Histogram("ivr_frustration_at_transfer", "Smoothed frustration at the transfer decision",
                                     buckets=_SCORE_BUCKETS, registry=r)
        self.survey = Histogram("ivr_survey_score", "Caller survey answers (1-5)", buckets=(1, 2, 3, 4, 5), registry=r)
        self.policy_version = Gauge("ivr_policy_version", "Policy version in force on this worker", registry=r)
        self._calls: dict[str, dict[str, Any]] = {}

    def call_started(self, call_id: str) -> None:
        self.calls.inc()
        self.active.inc()
        self._calls[call_id] = {"turn_end": None, "decided": None, "frustration": None}

    def call_ended(self, call_id: str, outcome: str) -> None:
        if self._calls.pop(call_id, None) is not None:
            self.active.dec()
        self.outcomes.labels(outcome).inc()

    def event(self, call_id: str, ev: CallEvent) -> None:
        """One call event, as the call emits it."""
        st = self._calls.get(call_id)
        if st is None:
            return
        if isinstance(ev, TurnEvent):
            self.turns.inc()
            st["turn_end"] = ev.end
            fr = ev.frustration
            if isinstance(fr, Mapping) and isinstance(fr.get("smoothed"), (int, float)):
                st["frustration"] = float(fr["smoothed"])
        elif isinstance(ev, BotEvent) and isinstance(ev.start, (int, float)) and isinstance(st["turn_end"], (int, float)):
            gap = float(ev.start) - float(st["turn_end"])
            st["turn_end"] = None  # one reply per turn
            if gap >= 0:
                self.response.observe(gap)
        elif isinstance(ev, DecisionEvent) and st["decided"] is None:
            st["decided"] = self.clock()
            self.escalations.labels(str(ev.reason or "unknown")).inc()
            if st["frustration"] is not None:
                self.frustration.observe(st["frustration"])
        elif isinstance(ev, TransferAttemptEvent):
            result = str(ev.result or "unknown")
            self.attempts.labels(result).inc()
            if result == "answered" and st["decided"] is not None:
                self.to_transfer.observe(self.clock() - st["decided"])
        elif isinstance(ev, SurveyEvent) and isinstance(ev.score, int):
            self.survey.observe(ev.score)

    def render(self) -> bytes:
        return generate_latest(self.registry)
