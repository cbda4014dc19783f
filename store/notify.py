"""Telling others what changed: NOTIFY on PostgreSQL (to the other workers) and in-process
subscribers (to this worker), each told in its own event loop when it has one.

A NOTIFY is sent inside the transaction of the change, so the other workers hear of it only once
it is committed; a subscriber is handed a fresh read (``publish(read)``), never the payload, so
one missed notification costs nothing that the next one does not repair.
"""

from __future__ import annotations

import asyncio
import inspect
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


def _call_safely(cb: Callable[..., Any], *args: Any) -> Any:
    try:
        return cb(*args)
    except Exception:
        log.exception("store: subscriber failed")
        return None


def _call_in_loop(loop: asyncio.AbstractEventLoop, cb: Callable[..., Any], *args: Any) -> None:
    """In the subscriber's own loop; a coroutine function's result runs there as a task."""
    result = _call_safely(cb, *args)
    if inspect.isawaitable(result):
        task = loop.create_task(result)  # type: ignore[arg-type]
        task.add_done_callback(lambda tk: tk.cancelled() or tk.exception() is None
                               or log.error("store: subscriber failed: %r", tk.exception()))


class Subscribers:
    """Callbacks told of a change, each in the loop it was registered from (thread-safe), if
    any, else in the thread that made the change; a coroutine function is run as a task in its
    loop. A subscriber whose loop has closed is dropped."""

    def __init__(self) -> None:
        self._subs: list[tuple[Callable[..., Any], asyncio.AbstractEventLoop | None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[..., Any], loop: asyncio.AbstractEventLoop | None = None
                  ) -> Callable[[], None]:
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                if inspect.iscoroutinefunction(callback):
                    raise ValueError("a coroutine callback needs an event loop: register it from one, or pass loop=") from None
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
            listening = bool(self._subs)
        if listening:
            self.notify(read())

    def notify(self, *args: Any) -> None:
        """``callback(*args)`` for every subscriber."""
        with self._lock:
            subs = list(self._subs)
        for entry in subs:
            cb, loop = entry
            if loop is None:
                _call_safely(cb, *args)
                continue
            try:
                loop.call_soon_threadsafe(_call_in_loop, loop, cb, *args)
            except RuntimeError:  # that loop is closed
                log.warning("store: a subscriber's event loop is closed; dropping it")
                with self._lock:
                    if entry in self._subs:
                        self._subs.remove(entry)
