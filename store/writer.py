"""The single writer thread: every queued write applied in order, each in its own transaction.

Writes never block the caller: they go on a queue, and one thread applies them, so a call that
ends abruptly (or a process that dies) loses nothing already written. When the database goes
away (PostgreSQL restarted) the write at the head of the queue is retried with a capped backoff
until it is back, so the order of writes is kept and nothing is lost; other errors are logged,
counted, and the writer moves on.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from typing import Any, Callable

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from .db import write_conn
from .values import Op

log = logging.getLogger("store")


class StoreClosed(RuntimeError):
    """A write was handed to a store that is not running."""


def is_outage(exc: BaseException) -> bool:
    """Whether a database error means the database is unreachable (so the write should wait for
    it), not that the write itself is wrong: a dropped connection, a refused connection, or the
    server shutting down."""
    if getattr(exc, "connection_invalidated", False):
        return True
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None)
    if state:
        return state.startswith("08") or state in ("57P01", "57P02", "57P03")
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(orig, psycopg.OperationalError)  # no SQLSTATE: the client could not connect


class _Barrier:
    def __init__(self, done: Callable[[], None]):
        self.done = done


_STOP = object()


class Writer:
    """The queue and the thread that empties it; ``outage_since`` and ``backlog`` say how it stands."""

    def __init__(self, engine: Engine, *, retry_max_s: float = 2.0):
        self.engine = engine
        self.write_errors = 0
        self.last_write_error: str | None = None
        self.outage_since: float | None = None  # monotonic time the database became unreachable
        self.write_retries = 0  # writes retried because the database was unreachable
        self.retry_max_s = retry_max_s
        self._abandon = threading.Event()  # close() gave up waiting for the database
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._refusing = False
        self._on_rollback: list[Callable[[], None]] = []

    def on_rollback(self, hook: Callable[[], None]) -> None:
        """``hook()`` after every failed write: what it cached from that transaction is stale."""
        self._on_rollback.append(hook)

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ivr-store-writer", daemon=True)
        self._thread.start()

    def refuse(self) -> None:
        """From now on ``submit`` raises ``StoreClosed``; what is queued is still written."""
        self._refusing = True

    def stop(self, timeout: float | None) -> None:
        """Write everything queued and stop; give up on a database that stays away."""
        self._refusing = True
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abandon.set()  # a database that stays away: stop retrying
            self._thread.join(5)
            log.error("store: writer still busy after %.0f s (%d writes not written); closing anyway",
                      timeout or 0, self._queue.qsize())

    def submit(self, op: Op, what: str) -> None:
        if self._refusing or self._thread is None:
            raise StoreClosed(f"store is not running (dropped: {what})")
        self._queue.put((op, what))

    async def flush(self) -> None:
        """Wait until every write queued before this call is committed (or has failed)."""
        if self._thread is None or not self._thread.is_alive():
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None))

        self._queue.put(_Barrier(done))
        await fut

    def flush_sync(self, timeout: float | None = 30.0) -> bool:
        """``flush`` for threads; False when it timed out."""
        if self._thread is None or not self._thread.is_alive():
            return True
        ev = threading.Event()
        self._queue.put(_Barrier(ev.set))
        return ev.wait(timeout)

    def write_failed(self, what: str, exc: BaseException) -> None:
        self.write_errors += 1
        self.last_write_error = f"{what}: {type(exc).__name__}"
        log.error("store: %s not written: %s", what, exc)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, _Barrier):
                item.done()
                continue
            op, what = item
            self._apply(op, what)

    def _rolled_back(self) -> None:
        for hook in self._on_rollback:
            hook()

    def _apply(self, op: Op, what: str) -> None:
        """Write one op. While the database is unreachable, wait for it (capped backoff) with this
        op at the head of the queue, so the order of writes is kept; other transient errors (a
        locked SQLite file) get three retries; anything else is logged, counted and skipped."""
        attempt = 0
        delay = 0.05
        while True:
            try:
                with write_conn(self.engine) as conn:
                    op(conn)
                if self.outage_since is not None:
                    log.warning("store: database back after %.1f s; writing the %d queued writes",
                                time.monotonic() - self.outage_since, self._queue.qsize() + 1)
                    self.outage_since = None
                return
            except (OperationalError, DBAPIError) as exc:
                self._rolled_back()  # the failed transaction may have used event numbers: re-read them
                if is_outage(exc) and not self._abandon.is_set():
                    if self.outage_since is None:
                        self.outage_since = time.monotonic()
                        log.warning("store: database unreachable (%s); keeping writes queued and retrying",
                                    type(exc.orig).__name__ if exc.orig else type(exc).__name__)
                    self.write_retries += 1
                    self._abandon.wait(delay)
                    delay = min(self.retry_max_s, delay * 2)
                    continue
                if isinstance(exc, IntegrityError) and attempt == 0:
                    attempt += 1  # an event number taken meanwhile (a sweep closed the call): re-read, retry
                    continue
                transient = isinstance(exc, OperationalError) or exc.connection_invalidated
                if transient and attempt < 3:
                    log.warning("store: %s failed (%s); retrying", what, type(exc.orig).__name__ if exc.orig else exc)
                    time.sleep(0.05 * 4**attempt)
                    attempt += 1
                    continue
                self.write_failed(what, exc)
                return
            except Exception as exc:
                self._rolled_back()
                self.write_failed(what, exc)
                return
