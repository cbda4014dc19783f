"""Telling others what changed: NOTIFY on PostgreSQL (to the other workers) and in-process
subscribers (to this worker), each told in its own event loop when it has one.

A NOTIFY is sent inside the transaction of the change, so the other workers hear of it only once
it is committed; a subscriber is handed a fresh read (``publish(read)``), never the payload, so
one missed notification costs nothing that the next one does not repair.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any, Callable

from sqlalchemy import Connection, text

log = logging.getLogger("store")

NOTIFY_CHANNEL = "ivr_policy"
AGENTS_CHANNEL = "ivr_agents"  # payload: {"agent": id, "held": bool, "worker": id} or {"agent", "presence", "worker"}


def pg_notify(conn: Connection, channel: str, payload: str | dict[str, Any]) -> None:
    """``NOTIFY channel, payload`` in ``conn``'s transaction (a dict is sent as JSON)."""
    if not isinstance(payload, str):
        payload = json.dumps(payload)
    conn.execute(text("SELECT pg_notify(:ch, :p)"), {"ch": channel, "p": payload})


def _call_safely(cb: Callable[..., Any], *args: Any) -> None:
    try:
        cb(*args)
    except Exception:
        log.exception("store: subscriber failed")


class Subscribers:
    """Callbacks each handed a fresh snapshot; in the loop they were registered from, if any."""

    def __init__(self) -> None:
        self._subs: list[tuple[Callable[[Any], Any], asyncio.AbstractEventLoop | None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[Any], Any], loop: asyncio.AbstractEventLoop | None = None
                  ) -> Callable[[], None]:
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
        entry = (callback, loop)
        with self._lock:
            self._subs.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subs:
                    self._subs.remove(entry)

        return unsubscribe

    def publish(self, read: Callable[[], Any]) -> None:
        """``read()`` once (only when someone listens) and hand the result to every subscriber."""
        with self._lock:
            subs = list(self._subs)
        if not subs:
            return
        snapshot = read()
        for cb, loop in subs:
            if loop is None:
                _call_safely(cb, snapshot)
            else:
                try:
                    loop.call_soon_threadsafe(_call_safely, cb, snapshot)
                except RuntimeError:  # that loop is closed
                    pass
