"""LISTEN for PostgreSQL notifications in a thread, and keep listening through restarts.

Several `ivr serve` workers share one PostgreSQL. A policy saved on one sends
``NOTIFY ivr_policy`` in its transaction; an agent claimed or released sends ``NOTIFY ivr_agents``.
Each worker's `PgListener` holds one autocommit connection of its own, waits on it at most
`poll_s` at a time, and hands every notification to the callback of its channel. When the
connection drops (PostgreSQL restarted, network cut) it reconnects with a capped backoff and then
calls `on_connect`, because notifications sent while it was away are lost: the callback re-reads
what they would have said.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from sqlalchemy.engine import make_url

log = logging.getLogger("store")


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq connection URI."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgListener:
    def __init__(self, url: str, channels: dict[str, Callable[[str], None]], *,
                 on_connect: Callable[[], None] | None = None, poll_s: float = 0.5,
                 backoff_max_s: float = 2.0, connect_timeout_s: int = 3) -> None:
        for name in channels:
            if not name.isidentifier():
                raise ValueError(f"channel: {name!r} is not a plain identifier")
        self.conninfo = libpq_url(url)
        self.channels = dict(channels)
        self.on_connect = on_connect
        self.poll_s = poll_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self.connected = threading.Event()
        self.connects = 0  # how many times a connection was made (1 + reconnections)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ivr-pg-listen", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        import psycopg

        delay = 0.05
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=self.connect_timeout_s) as conn:
                    for name in self.channels:
                        conn.execute(f'LISTEN "{name}"')
                    self.connects += 1
                    self.connected.set()
                    delay = 0.05
                    if self.connects > 1:
                        log.info("store: listening again for %s", ", ".join(self.channels))
                    self._safe(self.on_connect)
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=self.poll_s):
                            cb = self.channels.get(note.channel)
                            if cb is not None:
                                self._safe(cb, note.payload)
            except psycopg.Error as exc:
                if self.connected.is_set() or delay == 0.05:  # once per outage
                    log.warning("store: notification listener has no connection (%s); retrying",
                                type(exc).__name__)
                self.connected.clear()
                self._stop.wait(delay)
                delay = min(self.backoff_max_s, delay * 2)

    @staticmethod
    def _safe(cb: Callable | None, *args: str) -> None:
        if cb is None:
            return
        try:
            cb(*args)
        except Exception:
            log.exception("store: notification callback failed")
