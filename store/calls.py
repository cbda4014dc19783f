"""Calls and what happens in them: the call rows, the raw event log and the rows each kind of
event makes (turns, bot replies, decisions, the summary, the end), transfer attempts, survey
answers and callbacks; and the reads the panel makes of them.

Every write goes through the writer (``Writer.submit``), so it never blocks the call; the
validation of what is written happens here, in the caller, so a bad value fails where it was
given. Card numbers are masked (``clean_json``) before anything reaches the database.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Callable, Mapping

from sqlalchemy import Connection, Engine, func, insert, select, update

from calls.outcome import OUTCOMES  # spelled once, in calls/
from nlu.fusion import drove

from . import schema as t
from .clean import clean_json
from .values import aware as _aware
from .values import cut as _s
from .values import new_id, stmt_op
from .values import num as _num
from .values import whole as _int
from .writer import Writer

TRANSFER_RESULTS = ("answered", "busy", "declined", "no_answer", "cancelled", "failed")
# scheduled: rows from before the callback queue; in_progress: a worker is placing it (store.callbacks).
CALLBACK_STATUSES = ("pending", "scheduled", "in_progress", "done", "failed", "cancelled")
# Intents that say nothing about why the caller called (see nlu.dialog.META_INTENTS).
_META_INTENTS = frozenset({"yes", "no", "repeat", "goodbye", "out_of_scope", "speak_to_human"})


class Calls:
    """The calls repository. ``worker()`` names the worker whose call rows these are (or None)."""

    def __init__(self, engine: Engine, writer: Writer, worker: Callable[[], str | None]):
        self.engine = engine
        self._writer = writer
        self._worker = worker
        self._seqs: dict[str, int] = {}  # writer thread only: next event number per call
        writer.on_rollback(self._seqs.clear)

    def _submit(self, op: Callable[[Connection], None], what: str) -> None:
        self._writer.submit(op, what)

    # ------------------------------------------------------------------ calls (writes)

    def call_started(self, sip_call_id: str | None, caller: str | None, started_at: datetime | None = None,
                     *, call_id: str | None = None) -> str:
        """Queue a new call; returns its id at once (made here, no database round trip)."""
        cid = call_id or new_id()
        at = _aware(started_at)
        row = {"id": cid, "sip_call_id": _s(sip_call_id, 255), "caller": _s(caller, 64), "started_at": at,
               "ended_abruptly": False, "worker": self._worker()}
        self._submit(stmt_op(insert(t.calls).values(**row)), f"call {cid} start")
        return cid

    def record_event(self, call_id: str, event: Mapping[str, Any], at: datetime | None = None) -> None:
        """Queue one call event: it goes to the raw event log and, by its kind, to its table."""
        if not isinstance(event, Mapping):  # a typed event (calls.events) is stored as its wire dict
            event = event.to_json()
        try:
            snapshot = copy.deepcopy(dict(event))
        except Exception:  # something that cannot be copied: keep a JSON-safe (redacted) rendering
            snapshot = clean_json(dict(event))
        when = _aware(at)
        self._submit(lambda conn: self._write_event(conn, call_id, snapshot, when),
                     f"call {call_id} event {snapshot.get('event')!r}")

    def call_ended(self, call_id: str, outcome: str | None, *, abruptly: bool = False,
                   ended_at: datetime | None = None) -> None:
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome: must be one of {', '.join(OUTCOMES)} (got {outcome!r})")
        when = _aware(ended_at)

        def op(conn: Connection) -> None:
            values: dict[str, Any] = {"ended_at": when, "ended_abruptly": bool(abruptly)}
            if outcome is not None:
                values["outcome"] = outcome
            conn.execute(update(t.calls).where(t.calls.c.id == call_id).values(**values))
            self._seqs.pop(call_id, None)

        self._submit(op, f"call {call_id} end")

    def _next_seq(self, conn: Connection, call_id: str) -> int:
        seq = self._seqs.get(call_id)
        if seq is None:
            last = conn.scalar(select(func.max(t.events.c.seq)).where(t.events.c.call_id == call_id))
            seq = 0 if last is None else last + 1
        self._seqs[call_id] = seq + 1
        return seq

    def _write_event(self, conn: Connection, call_id: str, event: dict[str, Any], at: datetime) -> None:
        data = clean_json(event)
        if not isinstance(data, dict):
            data = {"event": "unknown", "data": data}
        kind = str(data.get("event") or "unknown")[:32]
        seq = self._next_seq(conn, call_id)
        conn.execute(insert(t.events).values(call_id=call_id, seq=seq, kind=kind, at=at, data=data))
        handler = self._handlers.get(kind)
        if handler is None:
            return
        try:
            with conn.begin_nested():
                handler(self, conn, call_id, data, seq, at)
        except Exception as exc:  # the raw event is kept even when its row cannot be made
            self._writer.write_failed(f"call {call_id} {kind} row", exc)

    def _on_turn(self, conn: Connection, call_id: str, d: dict[str, Any], seq: int, at: datetime) -> None:
        fr = d.get("frustration")
        if not isinstance(fr, dict):
            fr = {"score": fr}
        intent = _s(d.get("intent"), 64)
        entities = d.get("entities")
        conn.execute(insert(t.turns).values(
            call_id=call_id,
            turn_index=_int(d.get("index")) if _int(d.get("index")) is not None else seq,
            start_s=_num(d.get("start")),
            end_s=_num(d.get("end")),
            text=d.get("text") if isinstance(d.get("text"), str) else None,
            intent=intent,
            confidence=_num(d.get("confidence")),
            entities=entities,
            frustration_score=_num(fr.get("score")),
            frustration_smoothed=_num(fr.get("smoothed")),
            frustration_parts=fr.get("parts"),
            prosody=d.get("prosody"),
            barge_in=bool(d.get("barge_in", False)),
        ))
        if intent and intent not in _META_INTENTS:
            conn.execute(update(t.calls).where(t.calls.c.id == call_id).values(intent=intent))

    def _on_bot(self, conn: Connection, call_id: str, d: dict[str, Any], seq: int, at: datetime) -> None:
        extra = {k: v for k, v in d.items() if k not in ("event", "start", "text", "interrupted")}
        conn.execute(insert(t.bot_replies).values(
            call_id=call_id, seq=seq, start_s=_num(d.get("start")),
            text=d.get("text") if isinstance(d.get("text"), str) else None,
            interrupted=bool(d.get("interrupted", False)), extra=extra or None))

    def _on_decision(self, conn: Connection, call_id: str, d: dict[str, Any], seq: int, at: datetime) -> None:
        reason = _s(d.get("reason") or "unknown", 64)
        conn.execute(insert(t.decisions).values(
            call_id=call_id, decided_at=at, action=_s(d.get("action") or "transfer", 32), reason=reason,
            rule=d.get("rule") if isinstance(d.get("rule"), str) else None,
            rule_values=d.get("values"), policy_version=_int(d.get("policy_version"))))
        conn.execute(update(t.calls).where(t.calls.c.id == call_id).values(escalation_reason=reason))

    def _on_summary(self, conn: Connection, call_id: str, d: dict[str, Any], seq: int, at: datetime) -> None:
        summary = {k: v for k, v in d.items() if k != "event"}
        values: dict[str, Any] = {"summary": summary}
        if summary.get("intent"):
            values["intent"] = _s(summary["intent"], 64)
        conn.execute(update(t.calls).where(t.calls.c.id == call_id).values(**values))
        if summary.get("escalation_reason"):
            conn.execute(update(t.calls).where(t.calls.c.id == call_id, t.calls.c.escalation_reason.is_(None))
                         .values(escalation_reason=_s(summary["escalation_reason"], 64)))

    def _on_end(self, conn: Connection, call_id: str, d: dict[str, Any], seq: int, at: datetime) -> None:
        values: dict[str, Any] = {"ended_at": at}
        if d.get("outcome"):
            values["outcome"] = _s(d["outcome"], 32)
        conn.execute(update(t.calls).where(t.calls.c.id == call_id).values(**values))

    _handlers: dict[str, Callable[..., None]] = {
        "turn": _on_turn, "bot": _on_bot, "decision": _on_decision, "summary": _on_summary, "end": _on_end,
    }

    # ------------------------------------------------------------------ transfers, surveys, callbacks

    def transfer_attempt_started(self, call_id: str, agent: str | None, started_at: datetime | None = None) -> str:
        """Queue a transfer attempt (an INVITE to one agent); returns the attempt's id at once."""
        aid = new_id()
        row = {"id": aid, "call_id": call_id, "agent": _s(agent, 255), "started_at": _aware(started_at)}
        self._submit(stmt_op(insert(t.transfer_attempts).values(**row)),
                     f"call {call_id} transfer attempt")
        return aid

    def transfer_attempt_finished(self, attempt_id: str, result: str, at: datetime | None = None) -> None:
        """How the attempt ended. ``answered``: the agent picked up at ``at`` (the call's agent is
        set, and time to transfer is measured from the policy decision, or else from the attempt's
        start); anything else: the attempt is over at ``at``."""
        if result not in TRANSFER_RESULTS:
            raise ValueError(f"result: must be one of {', '.join(TRANSFER_RESULTS)} (got {result!r})")
        when = _aware(at)

        def op(conn: Connection) -> None:
            att = conn.execute(select(t.transfer_attempts).where(t.transfer_attempts.c.id == attempt_id)).first()
            if att is None:
                raise LookupError(f"no transfer attempt {attempt_id}")
            values: dict[str, Any] = {"result": result}
            if result == "answered":
                answered = att.answered_at or when
                decided = conn.scalar(select(func.min(t.decisions.c.decided_at))
                                      .where(t.decisions.c.call_id == att.call_id))
                origin = decided if decided is not None and decided <= answered else att.started_at
                values.update(answered_at=answered, time_to_transfer=round((answered - origin).total_seconds(), 3))
                conn.execute(update(t.calls).where(t.calls.c.id == att.call_id).values(agent=att.agent))
            else:
                values["ended_at"] = when
            conn.execute(update(t.transfer_attempts).where(t.transfer_attempts.c.id == attempt_id).values(**values))

        self._submit(op, f"transfer attempt {attempt_id} {result}")

    def transfer_attempt_ended(self, attempt_id: str, at: datetime | None = None) -> None:
        """An answered attempt's agent leg hung up."""
        when = _aware(at)
        self._submit(stmt_op(update(t.transfer_attempts).where(
            t.transfer_attempts.c.id == attempt_id).values(ended_at=when)), f"transfer attempt {attempt_id} end")

    def survey(self, call_id: str, score: int, at: datetime | None = None) -> None:
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ValueError(f"score: must be a whole number from 1 to 5 (got {score!r})")
        row = {"call_id": call_id, "score": score, "answered_at": _aware(at)}
        self._submit(stmt_op(insert(t.survey_answers).values(**row)), f"call {call_id} survey")

    def add_callback(self, call_id: str | None, number: str, requested_at: datetime | None = None,
                     status: str = "pending", *, skill: str | None = None, summary: Mapping[str, Any] | None = None,
                     consent: bool = True) -> str:
        """Queue a callback (store.callbacks places it); the summary is kept for the agent's pop."""
        if status not in CALLBACK_STATUSES:
            raise ValueError(f"status: must be one of {', '.join(CALLBACK_STATUSES)} (got {status!r})")
        if not number:
            raise ValueError("number: a callback needs a number")
        cid = new_id()
        at = _aware(requested_at)
        row = {"id": cid, "call_id": call_id, "number": _s(number, 64), "requested_at": at, "status": status,
               "updated_at": at, "skill": _s(skill, 64), "summary": clean_json(dict(summary)) if summary else None,
               "consent": bool(consent), "attempts": 0, "next_try_at": at}
        self._submit(stmt_op(insert(t.callbacks).values(**row)), f"callback {cid}")
        return cid

    def set_callback_status(self, callback_id: str, status: str, at: datetime | None = None) -> None:
        if status not in CALLBACK_STATUSES:
            raise ValueError(f"status: must be one of {', '.join(CALLBACK_STATUSES)} (got {status!r})")
        when = _aware(at)
        self._submit(stmt_op(update(t.callbacks).where(t.callbacks.c.id == callback_id)
                                               .values(status=status, updated_at=when)),
                     f"callback {callback_id} {status}")

    # ------------------------------------------------------------------ calls (reads)

    _CALL_COLUMNS = ("id", "sip_call_id", "caller", "started_at", "ended_at", "outcome", "intent",
                     "escalation_reason", "agent", "ended_abruptly", "worker")

    def list_calls(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Newest first. A call still going (or cut off before its end was written) has
        ``ended_at`` None."""
        cols = [t.calls.c[name] for name in self._CALL_COLUMNS]
        q = (select(*cols).order_by(t.calls.c.started_at.desc(), t.calls.c.id.desc())
             .limit(max(0, int(limit))).offset(max(0, int(offset))))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def count_calls(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(t.calls)) or 0)

    def get_call(self, call_id: str) -> dict[str, Any] | None:
        """The call with its summary, turns, bot replies, decision(s), transfer attempts, survey
        answers and callbacks; None when there is no such call."""
        with self.engine.connect() as conn:
            row = conn.execute(select(t.calls).where(t.calls.c.id == call_id)).first()
            if row is None:
                return None
            call = dict(row._mapping)
            call["turns"] = [
                {"index": r.turn_index, "start": r.start_s, "end": r.end_s, "text": r.text, "intent": r.intent,
                 "confidence": r.confidence, "entities": r.entities,
                 "frustration": {"score": r.frustration_score, "smoothed": r.frustration_smoothed,
                                 "parts": r.frustration_parts, "drove": drove(r.frustration_parts)},
                 "prosody": r.prosody, "barge_in": r.barge_in}
                for r in conn.execute(select(t.turns).where(t.turns.c.call_id == call_id)
                                      .order_by(t.turns.c.turn_index, t.turns.c.id))
            ]
            call["bot_replies"] = [
                {"start": r.start_s, "text": r.text, "interrupted": r.interrupted, **(r.extra or {})}
                for r in conn.execute(select(t.bot_replies).where(t.bot_replies.c.call_id == call_id)
                                      .order_by(t.bot_replies.c.seq))
            ]
            decisions = [
                {"decided_at": r.decided_at, "action": r.action, "reason": r.reason, "rule": r.rule,
                 "values": r.rule_values, "policy_version": r.policy_version}
                for r in conn.execute(select(t.decisions).where(t.decisions.c.call_id == call_id)
                                      .order_by(t.decisions.c.id))
            ]
            call["decision"] = decisions[-1] if decisions else None
            call["decisions"] = decisions
            call["transfer_attempts"] = [
                {k: v for k, v in r._mapping.items() if k != "call_id"}
                for r in conn.execute(select(t.transfer_attempts).where(t.transfer_attempts.c.call_id == call_id)
                                      .order_by(t.transfer_attempts.c.started_at, t.transfer_attempts.c.id))
            ]
            call["survey"] = [
                {"score": r.score, "answered_at": r.answered_at}
                for r in conn.execute(select(t.survey_answers).where(t.survey_answers.c.call_id == call_id)
                                      .order_by(t.survey_answers.c.id))
            ]
            call["callbacks"] = [
                {k: v for k, v in r._mapping.items() if k != "call_id"}
                for r in conn.execute(select(t.callbacks).where(t.callbacks.c.call_id == call_id)
                                      .order_by(t.callbacks.c.requested_at))
            ]
            return call

    def get_events(self, call_id: str) -> list[dict[str, Any]]:
        """The call's raw event log, in the order the events were recorded."""
        with self.engine.connect() as conn:
            return [{"seq": r.seq, "at": r.at, **r.data} for r in conn.execute(
                select(t.events).where(t.events.c.call_id == call_id).order_by(t.events.c.seq))]

    def list_callbacks(self, status: str | None = None) -> list[dict[str, Any]]:
        q = select(t.callbacks).order_by(t.callbacks.c.requested_at)
        if status is not None:
            q = q.where(t.callbacks.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]
