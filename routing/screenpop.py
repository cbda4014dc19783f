"""Screen pops and live transcript lines, pushed to each agent's desktop over WebSocket.

    hub = ScreenPopHub()
    hub.pop("alice", make_pop(summary.to_dict(), call_id=..., reason="frustration", ring_time=time.time()))
    hub.transcript("alice", call_id, "caller", "it still does not work")

Delivery is immediate: every connected desktop of the agent has its own asyncio queue that the
WebSocket handler (`web.routers.desktop`) drains as soon as something is put in it.
An agent with no desktop connected gets pops and transcript lines kept (the last `backlog`,
none older than `pending_ttl` seconds) and delivered, in order, when a desktop connects;
anything a dropped connection had not sent yet goes back to that store. Presence updates are
live-only. Call the hub from the event loop's thread.

Card numbers must already be redacted by whoever builds the payload (the summary is); the hub
redacts every text field again with `nlu.redact.redact`, so a PAN that slipped through the
pipeline never reaches a screen.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
import time
from typing import Any, Callable, Mapping

from nlu.redact import redact
from nlu.redact import redact_deep as _redact_deep

__all__ = ["ScreenPopHub", "Connection", "make_pop", "redact_deep"]

# Keys whose values are identifiers or labels the hub itself sets: not run through redaction.
_PLAIN_KEYS = frozenset({"type", "call_id", "callback_id", "agent_id", "ring_time", "ring_time_iso", "speaker", "state", "at"})
_POP_FIELDS = frozenset({"call_id", "reason", "ring_time", "ring_time_iso", "ringing_since", "agent_id", "caller", "type",
                         "at"})


def redact_deep(value: Any, key: str | None = None) -> Any:
    """nlu.redact.redact_deep, with the hub's own identifier keys left alone."""
    return _redact_deep(value, key, _PLAIN_KEYS)


def make_pop(summary: Mapping[str, Any] | Any, *, call_id: str, reason: str | None = None,
             ring_time: float | None = None, caller: str | None = None, **extra: Any) -> dict[str, Any]:
    """The pop payload: the hand-off summary (a HandoffSummary or its dict) with the call id, the
    transfer reason (defaults to the summary's escalation_reason) and when the phone rings
    (epoch seconds; default now)."""
    if hasattr(summary, "to_dict"):
        summary = summary.to_dict()
    summary = dict(summary or {})
    ring_time = time.time() if ring_time is None else ring_time
    return {"call_id": call_id, "reason": reason if reason is not None else summary.get("escalation_reason"),
            "ring_time": ring_time, "ring_time_iso": _iso(ring_time), "caller": caller, "summary": summary, **extra}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


@dataclass(eq=False)
class Connection:
    """One connected desktop: the WebSocket handler awaits `get()` and sends what comes."""

    agent_id: str
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    closed: bool = False
    unsent: list[dict[str, Any]] = field(default_factory=list)  # taken but not sent (the socket failed)

    async def get(self) -> dict[str, Any] | None:
        """The next message, or None once the hub closed this connection."""
        return await self.queue.get()

    def put_back(self, message: dict[str, Any]) -> None:
        self.unsent.append(message)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class ScreenPopHub:
    def __init__(self, *, backlog: int = 20, pending_ttl: float = 600.0, max_buffer: int = 500,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backlog = backlog
        self.pending_ttl = pending_ttl
        self.max_buffer = max_buffer  # a desktop this far behind is disconnected (it reconnects and catches up)
        self.clock = clock
        self._conns: dict[str, list[Connection]] = {}
        self._pending: dict[str, deque[tuple[float, dict[str, Any]]]] = {}
        self._followed: set[int] = set()
        self.delivered = 0
        self.kept = 0

    # ---- what the rest of the system calls ---------------------------------------------------------
    def pop(self, agent_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Push a screen pop to the agent (kept for later if no desktop is connected)."""
        payload = dict(payload)
        if "summary" not in payload:  # a flat payload: the summary fields next to call_id/reason/ring_time
            payload = {**{k: v for k, v in payload.items() if k in _POP_FIELDS},
                       "summary": {k: v for k, v in payload.items() if k not in _POP_FIELDS}}
        if "ring_time" not in payload and isinstance(payload.get("ringing_since"), (int, float)):
            payload["ring_time"] = payload.pop("ringing_since")  # the warm transfer's name for it
        payload.setdefault("ring_time", time.time())
        if isinstance(payload["ring_time"], (int, float)):
            payload.setdefault("ring_time_iso", _iso(float(payload["ring_time"])))
        message = {"type": "pop", "agent_id": agent_id, **redact_deep({k: v for k, v in payload.items() if k != "type"})}
        message["agent_id"] = agent_id
        self.send(agent_id, message)
        return message

    def transcript(self, agent_id: str, call_id: str, speaker: str, text: str) -> dict[str, Any]:
        """Push one live transcript line of the call the agent has (or is about to have)."""
        message = {"type": "transcript", "call_id": call_id, "speaker": speaker, "text": redact(text), "at": time.time()}
        self.send(agent_id, message)
        return message

    def presence(self, agent_id: str, state: Mapping[str, Any]) -> None:
        """Tell the agent's open desktops their presence (live only: not kept)."""
        self.send(agent_id, {"type": "presence", **state}, keep=False)

    def send(self, agent_id: str, message: dict[str, Any], *, keep: bool = True) -> int:
        """Deliver to every open desktop of the agent; with none, keep it (if `keep`). Returns how
        many desktops it went to."""
        conns = [c for c in self._conns.get(agent_id, []) if not c.closed]
        for conn in conns:
            if conn.queue.qsize() >= self.max_buffer:
                conn.close()
                continue
            conn.queue.put_nowait(message)
        sent = sum(1 for c in conns if not c.closed)
        if sent:
            self.delivered += 1
        elif keep:
            self._keep(agent_id, [message])
        return sent

    def follow(self, directory) -> None:
        """Push every presence change of `directory`'s agents to their desktops (once per directory)."""
        if id(directory) in self._followed:
            return
        self._followed.add(id(directory))

        def on_change(agent, old, new, status) -> None:
            self.presence(agent.id, status.to_dict(directory.clock()))

        directory.subscribe(on_change)

    # ---- desktops --------------------------------------------------------------------------------
    def connect(self, agent_id: str) -> Connection:
        """A desktop connected: it gets what was kept for the agent, then everything live."""
        conn = Connection(agent_id)
        for message in self.take_pending(agent_id):
            conn.queue.put_nowait(message)
        self._conns.setdefault(agent_id, []).append(conn)
        return conn

    def disconnect(self, conn: Connection) -> None:
        """A desktop went away: what it had not sent yet is kept, unless another desktop is open."""
        conns = self._conns.get(conn.agent_id, [])
        if conn in conns:
            conns.remove(conn)
        if not conns:
            self._conns.pop(conn.agent_id, None)
        unsent = list(conn.unsent)
        conn.unsent.clear()
        while not conn.queue.empty():
            message = conn.queue.get_nowait()
            if message is not None and message.get("type") != "presence":
                unsent.append(message)
        conn.closed = True
        if unsent and not conns:
            self._keep(conn.agent_id, unsent, front=True)

    def connected(self, agent_id: str) -> bool:
        return any(not c.closed for c in self._conns.get(agent_id, []))

    def pending(self, agent_id: str) -> list[dict[str, Any]]:
        self._expire(agent_id)
        return [m for _, m in self._pending.get(agent_id, ())]

    def take_pending(self, agent_id: str) -> list[dict[str, Any]]:
        out = self.pending(agent_id)
        self._pending.pop(agent_id, None)
        return out

    def _keep(self, agent_id: str, messages: list[dict[str, Any]], front: bool = False) -> None:
        store = self._pending.setdefault(agent_id, deque(maxlen=self.backlog))
        now = self.clock()
        if front:
            for message in reversed(messages):
                if len(store) < self.backlog:
                    store.appendleft((now, message))
        else:
            store.extend((now, m) for m in messages)
        self.kept += len(messages)

    def _expire(self, agent_id: str) -> None:
        store = self._pending.get(agent_id)
        if not store:
            return
        cutoff = self.clock() - self.pending_ttl
        while store and store[0][0] < cutoff:
            store.popleft()
