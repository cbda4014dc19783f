"""What the calls add up to: containment, escalations by reason, time to transfer, transfers
answered or abandoned, survey scores, and the product brief's after-hand-off figures (resolution
after hand-off, handle time after transfer, callback kept rate, repeat callers within 7 days).
Reads only, over the whole store (every worker's calls)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import Engine, func, select

from calls.outcome import Outcome

from . import schema as t
from .values import aware as _aware


class Metrics:
    def __init__(self, engine: Engine):
        self.engine = engine

    def metrics(self, since: datetime | None = None) -> dict[str, Any]:
        """Containment, escalations by reason, time to transfer, transfers answered vs abandoned,
        survey scores: for calls started at or after ``since`` (all calls when None)."""
        return {
            "outcomes": self.outcome_counts(since),
            "containment_rate": self.containment_rate(since),
            "escalations_by_reason": self.escalations_by_reason(since),
            "time_to_transfer": self.time_to_transfer(since),
            "transfers": self.transfer_outcomes(since),
            "survey": self.survey_scores(since),
            "resolution_after_handoff": self.resolution_after_handoff(since),
            "handle_time": self.handle_time_after_transfer(since),
            "callbacks_kept": self.callback_kept_rate(since),
            "repeat_callers": self.repeat_callers(since),
        }

    @staticmethod
    def _since(q: Any, since: datetime | None) -> Any:
        return q if since is None else q.where(t.calls.c.started_at >= _aware(since))

    def outcome_counts(self, since: datetime | None = None) -> dict[str, int]:
        q = self._since(select(t.calls.c.outcome, func.count()).group_by(t.calls.c.outcome), since)
        with self.engine.connect() as conn:
            return {(o or "in_progress"): int(n) for o, n in conn.execute(q)}

    def containment_rate(self, since: datetime | None = None) -> float | None:
        """Calls the bot resolved, over calls that have an outcome (None when there are none)."""
        counts = self.outcome_counts(since)
        ended = sum(n for o, n in counts.items() if o != "in_progress")
        return round(counts.get(Outcome.BOT_RESOLVED, 0) / ended, 4) if ended else None

    def escalations_by_reason(self, since: datetime | None = None) -> dict[str, int]:
        q = self._since(select(t.calls.c.escalation_reason, func.count())
                        .where(t.calls.c.escalation_reason.is_not(None))
                        .group_by(t.calls.c.escalation_reason), since)
        with self.engine.connect() as conn:
            return {r: int(n) for r, n in conn.execute(q)}

    def time_to_transfer(self, since: datetime | None = None) -> list[float]:
        q = self._since(select(t.transfer_attempts.c.time_to_transfer)
                        .join(t.calls, t.calls.c.id == t.transfer_attempts.c.call_id)
                        .where(t.transfer_attempts.c.time_to_transfer.is_not(None))
                        .order_by(t.transfer_attempts.c.answered_at), since)
        with self.engine.connect() as conn:
            return [float(x) for x in conn.scalars(q)]

    def transfer_outcomes(self, since: datetime | None = None) -> dict[str, Any]:
        """Per call with at least one transfer attempt: ``answered`` (an agent picked up),
        ``abandoned`` (the call ended with no agent on it), ``pending``; and attempts by result."""
        q = self._since(select(t.transfer_attempts.c.call_id, t.transfer_attempts.c.result, t.calls.c.ended_at)
                        .join(t.calls, t.calls.c.id == t.transfer_attempts.c.call_id), since)
        per_call: dict[str, tuple[bool, bool]] = {}
        by_result: dict[str, int] = {}
        with self.engine.connect() as conn:
            for call_id, result, ended_at in conn.execute(q):
                key = result or "pending"
                by_result[key] = by_result.get(key, 0) + 1
                answered, _ = per_call.get(call_id, (False, False))
                per_call[call_id] = (answered or result == "answered", ended_at is not None)
        answered = sum(1 for a, _ in per_call.values() if a)
        abandoned = sum(1 for a, e in per_call.values() if not a and e)
        return {"answered": answered, "abandoned": abandoned, "pending": len(per_call) - answered - abandoned,
                "attempts_by_result": by_result}

    def survey_scores(self, since: datetime | None = None) -> dict[str, Any]:
        q = self._since(select(t.survey_answers.c.score, func.count())
                        .join(t.calls, t.calls.c.id == t.survey_answers.c.call_id)
                        .group_by(t.survey_answers.c.score), since)
        with self.engine.connect() as conn:
            dist = {int(s): int(n) for s, n in conn.execute(q)}
        n = sum(dist.values())
        return {"count": n, "mean": round(sum(s * c for s, c in dist.items()) / n, 3) if n else None,
                "distribution": {s: dist.get(s, 0) for s in range(1, 6)}}

    def resolution_after_handoff(self, since: datetime | None = None) -> dict[str, Any]:
        """Of the handed-off calls whose agent answered the disposition's "resolved?", how many were
        (the call's last disposition counts; one that did not say is left out)."""
        q = self._since(select(t.dispositions.c.call_id, t.dispositions.c.resolved)
                        .join(t.calls, t.calls.c.id == t.dispositions.c.call_id)
                        .where(t.dispositions.c.resolved.is_not(None)).order_by(t.dispositions.c.id), since)
        with self.engine.connect() as conn:
            last = {call_id: bool(resolved) for call_id, resolved in conn.execute(q)}
        n, yes = len(last), sum(last.values())
        return {"answered": n, "resolved": yes, "rate": round(yes / n, 4) if n else None}

    def handle_time_after_transfer(self, since: datetime | None = None) -> dict[str, Any]:
        """Seconds from the agent's answer to the agent's leaving (their BYE, the caller's, or a
        hand-back to the bot), per bridged call: the `done` transfer event's ``handle_s``."""
        q = self._since(select(t.events.c.data).join(t.calls, t.calls.c.id == t.events.c.call_id)
                        .where(t.events.c.kind == "transfer").order_by(t.events.c.id), since)
        with self.engine.connect() as conn:
            values = [float(d["handle_s"]) for d in conn.scalars(q)
                      if isinstance(d, dict) and d.get("state") == "done" and isinstance(d.get("handle_s"), (int, float))]
        return {"count": len(values), "median_s": round(median(values), 3) if values else None,
                "p95_s": round(_quantile(values, 0.95), 3) if values else None, "values": values}

    def callback_kept_rate(self, since: datetime | None = None) -> dict[str, Any]:
        """Promised callbacks that reached the caller (``done``) over those that are over, done or
        failed (a cancelled one was withdrawn, not broken; a pending one is not over yet)."""
        c = t.callbacks.c
        q = select(c.status, func.count()).group_by(c.status)
        q = q if since is None else q.where(c.requested_at >= _aware(since))
        with self.engine.connect() as conn:
            by = {s: int(n) for s, n in conn.execute(q)}
        kept, failed = by.get("done", 0), by.get("failed", 0)
        return {"kept": kept, "failed": failed, "open": by.get("pending", 0) + by.get("in_progress", 0),
                "cancelled": by.get("cancelled", 0), "rate": round(kept / (kept + failed), 4) if kept + failed else None}

    def repeat_callers(self, since: datetime | None = None, days: int = 7) -> dict[str, Any]:
        """Calls (from a known number) whose caller had already called in the ``days`` before:
        a caller who has to call again was not helped the first time."""
        window = timedelta(days=days)
        q = select(t.calls.c.caller, t.calls.c.started_at).where(t.calls.c.caller.is_not(None))
        if since is not None:
            q = q.where(t.calls.c.started_at >= _aware(since) - window)  # earlier calls can make a repeat
        last: dict[str, datetime] = {}
        calls = repeats = 0
        with self.engine.connect() as conn:
            for caller, started in conn.execute(q.order_by(t.calls.c.started_at)):
                if since is None or started >= _aware(since):
                    calls += 1
                    prev = last.get(caller)
                    repeats += prev is not None and started - prev <= window
                last[caller] = started
        return {"calls": calls, "repeats": repeats, "days": days, "rate": round(repeats / calls, 4) if calls else None}


def _quantile(values: list[float], q: float) -> float:
    """The nearest-rank quantile (values need not be sorted)."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(q * len(ordered)))) - 1]
