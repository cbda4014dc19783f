"""Read-side views over the store for the web panel: calls in progress, and the recorded calls
a what-if replays. Reads only; nothing here writes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, select

from . import schema as t

LIVE_WINDOW = timedelta(hours=6)  # an open call older than this was cut off, not in progress


def live_calls(engine: Engine, now: datetime | None = None) -> list[dict[str, Any]]:
    """Calls with no end yet (any worker's: the store is shared), newest first, each with its
    state (bot, or the transfer's last state), intent and frustration per turn."""
    now = now or datetime.now(timezone.utc)
    q = (select(t.calls.c.id, t.calls.c.caller, t.calls.c.started_at, t.calls.c.intent, t.calls.c.escalation_reason)
         .where(t.calls.c.ended_at.is_(None), t.calls.c.started_at >= now - LIVE_WINDOW)
         .order_by(t.calls.c.started_at.desc()).limit(200))
    with engine.connect() as conn:
        calls = [dict(r._mapping) for r in conn.execute(q)]
        ids = [c["id"] for c in calls]
        if not ids:
            return []
        turns: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for r in conn.execute(select(t.turns.c.call_id, t.turns.c.turn_index, t.turns.c.intent, t.turns.c.text,
                                     t.turns.c.frustration_score, t.turns.c.frustration_smoothed)
                              .where(t.turns.c.call_id.in_(ids)).order_by(t.turns.c.call_id, t.turns.c.turn_index)):
            turns[r.call_id].append({"index": r.turn_index, "intent": r.intent, "text": r.text,
                                     "score": r.frustration_score, "smoothed": r.frustration_smoothed})
        state: dict[str, str] = {}
        for r in conn.execute(select(t.events.c.call_id, t.events.c.data)
                              .where(t.events.c.call_id.in_(ids), t.events.c.kind.in_(("transfer", "decision")))
                              .order_by(t.events.c.call_id, t.events.c.seq)):
            d = r.data or {}
            state[r.call_id] = f"transfer: {d['state']}" if d.get("event") == "transfer" and d.get("state") else "transferring"
    for c in calls:
        c["state"] = state.get(c["id"], "bot")
        c["turns"] = turns[c["id"]]
        c["frustration"] = [x["smoothed"] for x in c["turns"] if x["smoothed"] is not None]
        c["seconds"] = round((now - c["started_at"]).total_seconds(), 1)
    return calls


def replay_inputs(engine: Engine, since: datetime, until: datetime, limit: int = 2000) -> list[dict[str, Any]]:
    """Ended calls started in [since, until): id, outcome, escalation reason and the event log
    (turns, key presses, decisions) a replay walks through."""
    q = (select(t.calls.c.id, t.calls.c.started_at, t.calls.c.outcome, t.calls.c.escalation_reason, t.calls.c.caller)
         .where(t.calls.c.started_at >= since, t.calls.c.started_at < until, t.calls.c.ended_at.is_not(None))
         .order_by(t.calls.c.started_at).limit(limit))
    with engine.connect() as conn:
        calls = [dict(r._mapping) for r in conn.execute(q)]
        by_id = {c["id"]: c for c in calls}
        for c in calls:
            c["events"] = []
        if by_id:
            for r in conn.execute(select(t.events.c.call_id, t.events.c.data)
                                  .where(t.events.c.call_id.in_(list(by_id)),
                                         t.events.c.kind.in_(("turn", "dtmf", "no_input", "decision")))
                                  .order_by(t.events.c.call_id, t.events.c.seq)):
                by_id[r.call_id]["events"].append(r.data or {})
    return calls


def frustration_at_transfer(engine: Engine, since: datetime | None = None) -> list[float]:
    """The smoothed frustration of each transferred call's last turn before it left the bot."""
    from sqlalchemy import func

    last = (select(t.turns.c.call_id, func.max(t.turns.c.turn_index).label("last"))
            .join(t.calls, t.calls.c.id == t.turns.c.call_id)
            .where(t.calls.c.escalation_reason.is_not(None)).group_by(t.turns.c.call_id))
    if since is not None:
        last = last.where(t.calls.c.started_at >= since)
    last = last.subquery()
    q = (select(t.turns.c.frustration_smoothed)
         .join(last, (last.c.call_id == t.turns.c.call_id) & (last.c.last == t.turns.c.turn_index))
         .where(t.turns.c.frustration_smoothed.is_not(None)))
    with engine.connect() as conn:
        return [float(x) for x in conn.scalars(q)]
