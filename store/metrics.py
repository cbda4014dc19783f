"""What the calls add up to: containment, escalations by reason, time to transfer, transfers
answered or abandoned, survey scores. Reads only, over the whole store (every worker's calls)."""

from __future__ import annotations

from datetime import datetime
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
