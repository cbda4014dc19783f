"""Hand back to the bot, and the human introduction at the bridge.

An agent who has finished with a caller can pass them back to the bot for a quick survey
instead of hanging up on them (the product brief: "permit the agent to hand back to the bot for
follow-up surveys"). The agent's desktop asks (`HandbackDesk.request`, from any thread: the web
request's); the warm transfer holding the bridge (`routing.transfer`) has registered the call with
`open`, so it wakes, lets the agent's leg go, tells the caller why the voice changed
(`HANDBACK_PROMPT`) and runs the survey before it ends the call.

At the bridge the caller hears who they are now talking to: `bridge_intro(agent name)`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

HANDBACK_PROMPT = "Your agent has passed you back to me for a quick survey."
FLOWS = ("survey",)  # what the bot can run after a hand-back


def first_name(name: str | None) -> str | None:
    """'Alice Smith' → 'Alice'; None for no usable name (an id like 'alice' is a name too)."""
    words = " ".join(str(name or "").split()).split(" ")
    first = words[0].strip(".,;:") if words else ""
    return first[:1].upper() + first[1:] if first and any(ch.isalpha() for ch in first) else None


def bridge_intro(name: str | None) -> str | None:
    """What the caller hears as the agent is put through; None when the agent has no name to say."""
    first = first_name(name)
    return f"You're now speaking with {first}." if first else None


@dataclass(frozen=True)
class Handback:
    """A hand-back asked for from the desktop."""

    agent_id: str
    call_id: str
    flow: str = "survey"


@dataclass
class _Open:
    call_id: str
    event: asyncio.Event
    loop: asyncio.AbstractEventLoop
    asked: Handback | None = None


class HandbackDesk:
    """The bridged calls that may be handed back, one per agent, while the bridge lasts."""

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()

    def open(self, agent_id: str, call_id: str) -> asyncio.Event:
        """Called in the event loop by the transfer as it bridges; the event is set on a hand-back."""
        entry = _Open(call_id, asyncio.Event(), asyncio.get_running_loop())
        with self._lock:
            self._open[agent_id] = entry
        return entry.event

    def close(self, agent_id: str, call_id: str) -> Handback | None:
        """The bridge is over; the hand-back that ended it, if one did."""
        with self._lock:
            entry = self._open.get(agent_id)
            if entry is None or entry.call_id != call_id:
                return None
            del self._open[agent_id]
            return entry.asked

    def call_of(self, agent_id: str) -> str | None:
        with self._lock:
            entry = self._open.get(agent_id)
            return entry.call_id if entry else None

    def request(self, agent_id: str, call_id: str, flow: str = "survey") -> str | None:
        """Ask for the hand-back (from any thread); an error line for the agent, or None when asked."""
        if flow not in FLOWS:
            return f"flow: must be one of {', '.join(FLOWS)} (got {flow!r})"
        with self._lock:
            entry = self._open.get(agent_id)
            if entry is None or entry.call_id != call_id:
                return f"no call {call_id!r} bridged to {agent_id} now"
            if entry.asked is not None:
                return f"call {call_id!r} is already being handed back"
            entry.asked = Handback(agent_id, call_id, flow)
        entry.loop.call_soon_threadsafe(entry.event.set)
        return None
