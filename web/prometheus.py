"""`GET /metrics`: this worker's call counters and latency histograms in Prometheus text format.

Counted as the events happen (not queried from the store at scrape time), so every worker
exports only its own calls and Prometheus sums the workers, as it expects. Names are prefixed
``ivr_``; counters get ``_total`` from the client library. Besides the calls: the process
(``process_*``, ``python_gc_*``, ``python_info``), each reply's pipeline stages from the
`StagesEvent` (``ivr_stage_seconds{stage}``), and what `watch()` is given to read at scrape
time: RTP loss, lateness and concealment, the queue's depth, agents by presence, the store's
write backlog. docker/grafana-dashboard.json and docker/alert-rules.yml use these names.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from prometheus_client import (CollectorRegistry, Counter, Gauge, GCCollector, Histogram, PlatformCollector,
                               ProcessCollector, generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from calls.events import BotEvent, CallEvent, DecisionEvent, StagesEvent, SurveyEvent, TransferAttemptEvent, TurnEvent

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)
_TRANSFER_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300)
_SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
_STAGE_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
# StagesEvent field (milliseconds) → the `stage` label of ivr_stage_seconds
STAGES = {"end_of_turn_ms": "end_of_turn", "asr_ms": "asr", "nlu_ms": "nlu", "tts_first_chunk_ms": "tts_first_chunk",
          "speech_end_to_audio_ms": "speech_end_to_audio"}
RTP_COUNTERS = {"lost": ("ivr_rtp_packets_lost", "RTP packets from callers that never arrived"),
                "late": ("ivr_rtp_packets_late", "RTP packets that came after their play-out time"),
                "concealed": ("ivr_rtp_frames_concealed", "20 ms frames the jitter buffer concealed (loss or lateness)")}


class _Watched:
    """Figures read at scrape time from the running service (`CallMetrics.watch`)."""

    def __init__(self) -> None:
        self.media_totals: Callable[[], Mapping[str, int]] | None = None
        self.asr_totals: Callable[[], Mapping[str, float]] | None = None
        self.agents_by_presence: Callable[[], Mapping[str, int]] | None = None
        self.presences: tuple[str, ...] = ()

    def describe(self):
        return []  # the families depend on what is watched: collected at scrape time only

    def collect(self):
        if self.media_totals is not None:
            totals = self.media_totals()
            for key, (name, doc) in RTP_COUNTERS.items():
                yield CounterMetricFamily(name, doc, value=float(totals.get(key, 0)))
        if self.asr_totals is not None:  # voice.asr_stats: what the ASR pool ran and was spared
            for key, value in self.asr_totals().items():
                yield CounterMetricFamily(f"ivr_asr_{key}", f"Shared ASR pool: {key.replace('_', ' ')}",
                                          value=float(value))
        if self.agents_by_presence is not None:
            counts = dict.fromkeys(self.presences, 0) | dict(self.agents_by_presence())
            family = GaugeMetricFamily("ivr_agents", "Agents on this worker's directory, by presence",
                                       labels=["presence"])
            for presence, n in sorted(counts.items()):
                family.add_metric([presence], float(n))
            yield family


class CallMetrics:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        r = self.registry = CollectorRegistry(auto_describe=True)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=r)  # process_*, python_info, python_gc_*: what operators expect
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
        self.stages = Histogram("ivr_stage_seconds", "Where a reply's wait went: end of turn, ASR, NLU, TTS first "
                                "chunk, speech end to audio", ["stage"], buckets=_STAGE_BUCKETS, registry=r)
        self.queue_depth = Gauge("ivr_queue_depth", "Calls waiting for an agent on this worker", registry=r)
        self.store_backlog = Gauge("ivr_store_backlog", "Call events waiting for the store's writer", registry=r)
        self._watched = _Watched()
        r.register(self._watched)
        self._calls: dict[str, dict[str, Any]] = {}

    def watch(self, *, queue_depth: Callable[[], float] | None = None, store_backlog: Callable[[], float] | None = None,
              media_totals: Callable[[], Mapping[str, int]] | None = None,
              asr_totals: Callable[[], Mapping[str, float]] | None = None,
              agents_by_presence: Callable[[], Mapping[str, int]] | None = None, presences: tuple[str, ...] = ()) -> None:
        """Read these at scrape time: the queue's depth, the store's backlog, RTP totals (lost, late,
        concealed), the ASR pool's counts (voice.asr_stats), agents by presence (every one of
        `presences` is exported, 0 when nobody is in it)."""
        if queue_depth is not None:
            self.queue_depth.set_function(queue_depth)
        if store_backlog is not None:
            self.store_backlog.set_function(store_backlog)
        self._watched.media_totals = media_totals
        self._watched.asr_totals = asr_totals
        self._watched.agents_by_presence = agents_by_presence
        self._watched.presences = tuple(presences)

    def call_started(self, call_id: str) -> None:
        self.calls.inc()
        self.active.inc()
        self._calls[call_id] = {"turn_end": None, "decided": None, "frustration": None}

    def call_ended(self, call_id: str, outcome: str) -> None:
        if self._calls.pop(call_id, None) is not None:
            self.active.dec()
        self.outcomes.labels(outcome).inc()

    def watch_service(self, queue, directory, store, media_totals: Callable[[], Mapping[str, int]],
                      asr_totals: Callable[[], Mapping[str, float]] | None = None) -> None:
        """`watch` a worker's call queue, agent directory, store, RTP totals and ASR pool counts."""
        from collections import Counter as Tally

        from routing.agents import Presence

        self.watch(queue_depth=lambda: len(queue.waiting), store_backlog=lambda: store.backlog,
                   media_totals=media_totals, asr_totals=asr_totals, presences=tuple(p.value for p in Presence),
                   agents_by_presence=lambda: Tally(directory.presence(a.id).value for a in directory))

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
        elif isinstance(ev, StagesEvent):
            for field, stage in STAGES.items():
                ms = getattr(ev, field)
                if isinstance(ms, (int, float)) and ms >= 0:
                    self.stages.labels(stage).observe(float(ms) / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
