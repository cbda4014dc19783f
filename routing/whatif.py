"""What-if: replay recorded calls under a proposed policy, before an admin saves it.

Each stored turn carries what the policy saw (intent, frustration raw and smoothed, and the
dialogue counters in ``signals``); key presses are stored too. Walking a call's events and
asking ``decide`` after each one gives the first point where the proposed policy would have
transferred. A replay cannot know what a caller would have said after a transfer that no longer
happens, so a call that stops being transferred counts as kept by the bot, no more; the page
says so. Pure: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from calls.events import CallEvent, DtmfEvent, NoInputEvent, TurnEvent, event_from_json
from calls.outcome import Outcome
from routing.policy import Policy, Signals, decide


@dataclass(frozen=True)
class Replayed:
    call_id: str
    before: str | None  # the reason it was transferred, None when it was not
    after: str | None  # the reason the proposed policy would transfer it, None when not
    after_turn: int | None  # the turn (0-based, of the turns replayed) where it would trip
    outcome: str | None


@dataclass
class WhatIf:
    calls: int = 0
    transferred_before: int = 0
    transferred_after: int = 0
    contained_before: int = 0
    contained_after: int = 0
    changed: list[Replayed] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        rate = (lambda n: round(n / self.calls, 4) if self.calls else None)
        return {
            "calls": self.calls,
            "transferred_before": self.transferred_before,
            "transferred_after": self.transferred_after,
            "containment_before": rate(self.contained_before),
            "containment_after": rate(self.contained_after),
            "changed": [{"call_id": r.call_id, "before": r.before, "after": r.after, "after_turn": r.after_turn,
                         "outcome": r.outcome} for r in self.changed],
        }


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def replay(events: Iterable[CallEvent | Mapping[str, Any]], policy: Policy) -> tuple[str | None, int | None]:
    """(reason, turn index) of the first transfer ``policy`` makes on this event log, else (None, None).

    Stored events come as their JSON; what they hold is checked here, since old calls may lack a key."""
    s = Signals()
    turn = -1
    for ev in events:
        if isinstance(ev, Mapping):
            ev = event_from_json(ev)
        if isinstance(ev, DtmfEvent):
            d = decide(policy, Signals(**{**s.__dict__, "dtmf": str(ev.digit)}))
            if d is not None:
                return d.reason, max(turn, 0)
            continue
        if not isinstance(ev, (TurnEvent, NoInputEvent)):
            continue
        turn += 1
        sig = ev.signals if isinstance(ev.signals, Mapping) else {}
        if isinstance(ev, TurnEvent):
            fr = ev.frustration if isinstance(ev.frustration, Mapping) else {}
            raw, smooth = _num(fr.get("score")), _num(fr.get("smoothed"))
            if raw is not None:
                s.frustration_raw.append(raw)
                s.frustration.append(smooth if smooth is not None else raw)
                parts = fr.get("parts")
                s.frustration_parts.append(parts if isinstance(parts, Mapping) else {})
            # What the policy saw: the intent the dialog accepted (signals.intent); calls stored
            # before that was recorded were decided on the classifier's intent.
            intent = sig["intent"] if "intent" in sig else ev.intent
            s.intent = intent if isinstance(intent, str) else None
        else:
            s.intent = None
            s.no_input = s.no_input + 1 if "no_input" not in sig else s.no_input
        for key in ("no_match", "no_input"):
            v = sig.get(key)
            if isinstance(v, int) and not isinstance(v, bool):
                setattr(s, key, v)
        s.bot_seconds = _num(sig.get("bot_seconds")) or s.bot_seconds
        s.tier = sig.get("tier") if isinstance(sig.get("tier"), str) else s.tier
        s.dialog_escalation = sig.get("dialog_escalation") if isinstance(sig.get("dialog_escalation"), str) else None
        d = decide(policy, s)
        if d is not None:
            return d.reason, turn
    return None, None


def what_if(calls: Iterable[Mapping[str, Any]], policy: Policy) -> WhatIf:
    """Compare what happened to the recorded calls with what ``policy`` would have done.

    ``calls`` as ``store.views.replay_inputs`` gives them. Before: the call was
    transferred when it has an escalation reason. Containment before: the calls the bot resolved;
    after: those, less the ones the proposed policy transfers, plus the ones it no longer
    transfers (kept by the bot, which is the most a replay can say).
    """
    out = WhatIf()
    for c in calls:
        out.calls += 1
        before = c.get("escalation_reason")
        after, at = replay(c.get("events") or [], policy)
        resolved = c.get("outcome") == Outcome.BOT_RESOLVED
        out.transferred_before += before is not None
        out.transferred_after += after is not None
        out.contained_before += resolved
        out.contained_after += (resolved and after is None) or (before is not None and after is None)
        if (before is None) != (after is None) or (before and after and before != after):
            out.changed.append(Replayed(str(c.get("id")), before, after, at, c.get("outcome")))
    return out
