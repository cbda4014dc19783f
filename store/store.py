"""The call store: every call, turn, reply, decision and transfer, and the versioned policy.

Writes never block the caller: they are put on a queue and applied, in order, by one writer
thread, each in its own committed transaction (a call that ends abruptly, or a process that
dies, loses nothing already written). ``await store.flush()`` waits until everything queued so
far is written. Reads are plain synchronous methods (FastAPI runs sync endpoints in its thread
pool); from asyncio code use ``await store.run(store.get_call, call_id)``.

Card numbers are masked (``nlu.redact``) in every free-text field and everywhere in JSON
documents before they reach the database. Identifier fields (``caller``, ``sip_call_id``, a
callback ``number``, agent names and URIs) are kept as given: a 13-digit international phone
number must stay dialable.

Policy changes (``save_policy``/``rollback_policy``) are synchronous admin actions; subscribers
registered with ``on_policy_change`` hear of them after the commit. Across processes: on
PostgreSQL every change also sends ``NOTIFY ivr_policy, '<version>'`` in its transaction, and
every Store on PostgreSQL listens (``listen.PgListener``) and calls ``refresh_policy()`` on it,
which re-reads the newest version and tells the local subscribers when it changed: a change made
on any worker is live on all of them within a second.

When the database goes away (PostgreSQL restarted), the writer keeps the queued writes, in order,
and retries the one at the head with a capped backoff until the database is back: calls go on and
nothing is lost (``outage_since`` and ``backlog`` say how it stands). Other errors are logged and
counted, and the writer moves on.

Several workers on one database (``register_worker``): each call row names its worker; a worker
heartbeats, and closes the calls that a worker with a stale heartbeat (or itself, before a
restart) left open as ``interrupted``, keeping everything written up to the end. Agent claims
(``claim_agent``/``release_agent``, one row per agent) keep two workers from ringing one agent.
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import inspect
import json
import logging
import queue
import threading
import time
import uuid
import weakref
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from nlu.fusion import drove
from routing.policy import DEFAULT_POLICY_PATH, Policy, PolicyError, load_policy

from . import schema as t
from .accounts import Accounts
from .clean import clean_json, policy_diff, redact_text
from .db import DEFAULT_URL, POLICY_LOCK, SQLITE_BEGIN, SWEEP_LOCK, is_postgres, make_engine, migrate
from .listen import PgListener

log = logging.getLogger("store")

# interrupted: the worker handling the call died (or restarted) before the call's end was written.
OUTCOMES = ("bot_resolved", "transferred", "caller_hung_up", "abandoned", "interrupted")
TRANSFER_RESULTS = ("answered", "busy", "declined", "no_answer", "cancelled", "failed")
CALLBACK_STATUSES = ("pending", "scheduled", "done", "failed", "cancelled")
# Intents that say nothing about why the caller called (see nlu.dialog.META_INTENTS).
_META_INTENTS = frozenset({"yes", "no", "repeat", "goodbye", "out_of_scope", "speak_to_human"})
NOTIFY_CHANNEL = "ivr_policy"
AGENTS_CHANNEL = "ivr_agents"  # payload: {"agent": id, "held": bool, "worker": id} or {"agent", "presence", "worker"}

T = TypeVar("T")
Op = Callable[[Connection], None]
PolicyCallback = Callable[[int, Policy], Any]
ClaimCallback = Callable[[dict[str, str]], Any]  # agent id → worker holding it, for every claim
PresenceCallback = Callable[[dict[str, tuple[str, str | None]]], Any]  # agent id → (state, worker that set it)


class StoreClosed(RuntimeError):
    """A write was handed to a store that is not running."""


class PolicyConflict(RuntimeError):
    """The policy changed since the version the editor started from."""

    def __init__(self, expected: int, current: int | None):
        super().__init__(f"version: the policy is now version {current}, not {expected}; reload and edit again")
        self.expected = expected
        self.current = current


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


def _s(value: Any, n: int) -> str | None:
    """A string cut to a column's length (PostgreSQL enforces it; SQLite does not)."""
    if value is None:
        return None
    return str(value)[:n]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _stmt_op(stmt: Any) -> Op:
    def op(conn: Connection) -> None:
        conn.execute(stmt)
    return op


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


def _call_safely(cb: Callable[..., Any], *args: Any) -> None:
    try:
        cb(*args)
    except Exception:
        log.exception("store: subscriber failed")


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise ValueError("give the store aware datetimes (e.g. datetime.now(timezone.utc))")
    return at


class _Barrier:
    def __init__(self, done: Callable[[], None]):
        self.done = done


_STOP = object()


class PolicyChanges:
    """In-process subscribers to policy changes.

    A callback registered while an event loop runs in the registering thread (or with ``loop=``)
    is called in that loop (thread-safe; a coroutine function is scheduled as a task); one
    registered outside any loop is called in the thread that made the change.
    """

    def __init__(self) -> None:
        self._subs: list[tuple[PolicyCallback, asyncio.AbstractEventLoop | None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: PolicyCallback, loop: asyncio.AbstractEventLoop | None = None) -> Callable[[], None]:
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

    def publish(self, version: int, policy: Policy) -> None:
        with self._lock:
            subs = list(self._subs)
        for cb, loop in subs:
            if loop is None:
                self._call(cb, version, policy)
            else:
                try:
                    loop.call_soon_threadsafe(self._call_in_loop, loop, cb, version, policy)
                except RuntimeError:  # that loop is closed
                    log.warning("policy change: a subscriber's event loop is closed; dropping it")
                    with self._lock:
                        if (cb, loop) in self._subs:
                            self._subs.remove((cb, loop))

    @staticmethod
    def _call(cb: PolicyCallback, version: int, policy: Policy) -> Any:
        try:
            return cb(version, policy)
        except Exception:
            log.exception("policy change subscriber failed")
            return None

    def _call_in_loop(self, loop: asyncio.AbstractEventLoop, cb: PolicyCallback, version: int, policy: Policy) -> None:
        result = self._call(cb, version, policy)
        if inspect.isawaitable(result):
            task = loop.create_task(result)  # type: ignore[arg-type]
            task.add_done_callback(lambda tk: tk.cancelled() or tk.exception() is None
                                   or log.error("policy change subscriber failed: %r", tk.exception()))


def _close_at_exit(ref: "weakref.ReferenceType[Store]") -> None:
    store = ref()
    if store is not None and not store._closed:
        store.close(timeout=10)


class Store:
    """See the module docstring. ``Store(url)`` migrates, seeds the policy and starts the writer."""

    def __init__(self, url: str = DEFAULT_URL, *, seed_policy_path: str | Path = DEFAULT_POLICY_PATH,
                 echo: bool = False, start: bool = True, listen: bool = True, retry_max_s: float = 2.0):
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.accounts = Accounts(self.engine)
        self.seed_policy_path = Path(seed_policy_path)
        self.write_errors = 0
        self.last_write_error: str | None = None
        self.worker_id: str | None = None  # set by register_worker; written on each call row
        self.outage_since: float | None = None  # monotonic time the database became unreachable
        self.write_retries = 0  # writes retried because the database was unreachable
        self.retry_max_s = retry_max_s
        self._abandon = threading.Event()  # close() gave up waiting for the database
        self._listen = listen
        self._listener: PgListener | None = None
        self._claim_subs: list[tuple[ClaimCallback, asyncio.AbstractEventLoop | None]] = []
        self._presence_subs: list[tuple[PresenceCallback, asyncio.AbstractEventLoop | None]] = []
        self._binding_subs: list[tuple[Callable[[dict], Any], asyncio.AbstractEventLoop | None]] = []
        self._housekeeper: threading.Thread | None = None
        self._housekeeping_stop = threading.Event()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._closed = False
        self._seqs: dict[str, int] = {}  # writer thread only: next event number per call
        self._policy_lock = threading.Lock()
        self._policy: tuple[int, Policy] | None = None
        self._changes = PolicyChanges()
        self._postgres = is_postgres(self.engine)
        if start:
            self.start()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Migrate (idempotent), seed the policy if there is none, start the writer thread."""
        if self._writer is not None:
            return
        migrate(self.engine)
        self._seed_policy()
        self._policy = self.current_policy()
        self._writer = threading.Thread(target=self._run_writer, name="ivr-store-writer", daemon=True)
        self._writer.start()
        if self._postgres and self._listen:
            self._listener = PgListener(self.url, {NOTIFY_CHANNEL: self._on_policy_notify,
                                                   AGENTS_CHANNEL: self._on_agents_notify},
                                        on_connect=self._on_listen_connect)
            self._listener.start()
        atexit.register(_close_at_exit, weakref.ref(self))  # drain the queue if nobody closes us

    def close(self, timeout: float | None = 30.0) -> None:
        """Write everything queued, stop the writer, release the connections."""
        if self._closed:
            return
        self._closed = True
        self._housekeeping_stop.set()
        if self._listener is not None:
            self._listener.stop()
        if self._housekeeper is not None:
            self._housekeeper.join(5)
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join(timeout)
            if self._writer.is_alive():
                self._abandon.set()  # a database that stays away: stop retrying
                self._writer.join(5)
                log.error("store: writer still busy after %.0f s (%d writes not written); closing anyway",
                          timeout or 0, self._queue.qsize())
        self.engine.dispose()

    @property
    def backlog(self) -> int:
        """Writes queued and not yet written (grows while the database is unreachable)."""
        return self._queue.qsize()

    async def aclose(self, timeout: float | None = 30.0) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close, timeout)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a synchronous read (or admin action) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args))

    # ------------------------------------------------------------------ the writer

    def _submit(self, op: Op, what: str) -> None:
        if self._closed or self._writer is None:
            raise StoreClosed(f"store is not running (dropped: {what})")
        self._queue.put((op, what))

    async def flush(self) -> None:
        """Wait until every write queued before this call is committed (or has failed)."""
        if self._writer is None or not self._writer.is_alive():
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None))

        self._queue.put(_Barrier(done))
        await fut

    def flush_sync(self, timeout: float | None = 30.0) -> bool:
        """``flush`` for threads; False when it timed out."""
        if self._writer is None or not self._writer.is_alive():
            return True
        ev = threading.Event()
        self._queue.put(_Barrier(ev.set))
        return ev.wait(timeout)

    def _run_writer(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, _Barrier):
                item.done()
                continue
            op, what = item
            self._apply(op, what)

    def _apply(self, op: Op, what: str) -> None:
        """Write one op. While the database is unreachable, wait for it (capped backoff) with this
        op at the head of the queue, so the order of writes is kept; other transient errors (a
        locked SQLite file) get three retries; anything else is logged, counted and skipped."""
        attempt = 0
        delay = 0.05
        while True:
            try:
                with self._write_conn() as conn:
                    op(conn)
                if self.outage_since is not None:
                    log.warning("store: database back after %.1f s; writing the %d queued writes",
                                time.monotonic() - self.outage_since, self._queue.qsize() + 1)
                    self.outage_since = None
                return
            except (OperationalError, DBAPIError) as exc:
                self._seqs.clear()  # the failed transaction may have used event numbers: re-read them
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
                self._write_failed(what, exc)
                return
            except Exception as exc:
                self._seqs.clear()
                self._write_failed(what, exc)
                return

    def _write_failed(self, what: str, exc: BaseException) -> None:
        self.write_errors += 1
        self.last_write_error = f"{what}: {type(exc).__name__}"
        log.error("store: %s not written: %s", what, exc)

    @contextmanager
    def _write_conn(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(**{SQLITE_BEGIN: "BEGIN IMMEDIATE"})
            with conn.begin():
                yield conn

    # ------------------------------------------------------------------ calls (writes)

    def call_started(self, sip_call_id: str | None, caller: str | None, started_at: datetime | None = None,
                     *, call_id: str | None = None) -> str:
        """Queue a new call; returns its id at once (made here, no database round trip)."""
        cid = call_id or new_id()
        at = _aware(started_at)
        row = {"id": cid, "sip_call_id": _s(sip_call_id, 255), "caller": _s(caller, 64), "started_at": at,
               "ended_abruptly": False, "worker": self.worker_id}
        self._submit(_stmt_op(insert(t.calls).values(**row)), f"call {cid} start")
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
            self._write_failed(f"call {call_id} {kind} row", exc)

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
        self._submit(_stmt_op(insert(t.transfer_attempts).values(**row)),
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
        self._submit(_stmt_op(update(t.transfer_attempts).where(
            t.transfer_attempts.c.id == attempt_id).values(ended_at=when)), f"transfer attempt {attempt_id} end")

    def survey(self, call_id: str, score: int, at: datetime | None = None) -> None:
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ValueError(f"score: must be a whole number from 1 to 5 (got {score!r})")
        row = {"call_id": call_id, "score": score, "answered_at": _aware(at)}
        self._submit(_stmt_op(insert(t.survey_answers).values(**row)), f"call {call_id} survey")

    def add_callback(self, call_id: str | None, number: str, requested_at: datetime | None = None,
                     status: str = "pending") -> str:
        if status not in CALLBACK_STATUSES:
            raise ValueError(f"status: must be one of {', '.join(CALLBACK_STATUSES)} (got {status!r})")
        if not number:
            raise ValueError("number: a callback needs a number")
        cid = new_id()
        at = _aware(requested_at)
        row = {"id": cid, "call_id": call_id, "number": _s(number, 64), "requested_at": at, "status": status,
               "updated_at": at}
        self._submit(_stmt_op(insert(t.callbacks).values(**row)), f"callback {cid}")
        return cid

    def set_callback_status(self, callback_id: str, status: str, at: datetime | None = None) -> None:
        if status not in CALLBACK_STATUSES:
            raise ValueError(f"status: must be one of {', '.join(CALLBACK_STATUSES)} (got {status!r})")
        when = _aware(at)
        self._submit(_stmt_op(update(t.callbacks).where(t.callbacks.c.id == callback_id)
                                               .values(status=status, updated_at=when)),
                     f"callback {callback_id} {status}")

    # ------------------------------------------------------------------ agents (presence)

    def upsert_agent(self, agent_id: str, name: str, sip_uri: str, skills: list[str] | None = None,
                     state: str = "offline", at: datetime | None = None) -> None:
        when = _aware(at)
        row = {"name": _s(redact_text(name), 255), "sip_uri": _s(sip_uri, 255), "skills": clean_json(list(skills or [])),
               "state": _s(state, 32), "state_since": when}

        def op(conn: Connection) -> None:
            n = conn.execute(update(t.agents).where(t.agents.c.id == agent_id).values(**row)).rowcount
            if not n:
                conn.execute(insert(t.agents).values(id=agent_id, **row))

        self._submit(op, f"agent {agent_id}")

    def set_agent_state(self, agent_id: str, state: str, at: datetime | None = None) -> None:
        when = _aware(at)
        self._submit(_stmt_op(update(t.agents).where(t.agents.c.id == agent_id)
                                               .values(state=_s(state, 32), state_since=when)),
                     f"agent {agent_id} {state}")

    def list_agents(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t.agents).order_by(t.agents.c.id))]

    # ------------------------------------------------------------------ workers sharing the database

    def register_worker(self, worker_id: str, *, sip: str | None = None, heartbeat_s: float = 2.0,
                        stale_s: float = 10.0) -> list[str]:
        """This process is worker ``worker_id``: its calls carry the id from now on. Closes, as
        ``interrupted``, the calls it left open before a restart and drops its old agent claims;
        then heartbeats every ``heartbeat_s`` and, as often, closes the calls of workers whose
        heartbeat is older than ``stale_s``. Returns the ids of the calls closed now."""
        if not worker_id or len(worker_id) > 64:
            raise ValueError("worker_id: 1 to 64 characters")
        self.worker_id = worker_id
        now = utcnow()
        with self._write_conn() as conn:
            n = conn.execute(update(t.workers).where(t.workers.c.id == worker_id)
                             .values(started_at=now, heartbeat_at=now, sip=_s(sip, 255))).rowcount
            if not n:
                conn.execute(insert(t.workers).values(id=worker_id, started_at=now, heartbeat_at=now, sip=_s(sip, 255)))
        closed = self.close_calls_of([worker_id], by=worker_id, reason="worker_restarted")
        self._drop_claims_of([worker_id])
        if self._housekeeper is None:
            self._housekeeper = threading.Thread(target=self._housekeep, args=(heartbeat_s, stale_s),
                                                 name="ivr-store-heartbeat", daemon=True)
            self._housekeeper.start()
        return closed

    def _housekeep(self, heartbeat_s: float, stale_s: float) -> None:
        while not self._housekeeping_stop.wait(heartbeat_s):
            try:
                with self._write_conn() as conn:
                    conn.execute(update(t.workers).where(t.workers.c.id == self.worker_id).values(heartbeat_at=utcnow()))
                self.sweep_dead_workers(stale_s)
            except (OperationalError, DBAPIError):
                pass  # the database is away: the writer says so; heartbeats resume with it

    def sweep_dead_workers(self, stale_s: float) -> list[str]:
        """Close the open calls of every other worker whose heartbeat is older than ``stale_s``
        (it died: killed, or its machine went away), free its agent claims and forget it."""
        cutoff = utcnow() - timedelta(seconds=stale_s)
        with self.engine.connect() as conn:
            dead = list(conn.scalars(select(t.workers.c.id).where(t.workers.c.heartbeat_at < cutoff,
                                                                  t.workers.c.id != (self.worker_id or ""))))
        if not dead:
            return []
        closed = self.close_calls_of(dead, by=self.worker_id or "?", reason="worker_died")
        self._drop_claims_of(dead)
        with self._write_conn() as conn:
            conn.execute(t.workers.delete().where(t.workers.c.id.in_(dead), t.workers.c.heartbeat_at < cutoff))
        log.warning("store: worker(s) %s stopped heartbeating; closed %d open call(s) as interrupted",
                    ", ".join(dead), len(closed))
        return closed

    def close_calls_of(self, workers: list[str], *, by: str, reason: str) -> list[str]:
        """Mark the open calls of ``workers`` ended: outcome ``interrupted``, ``ended_abruptly``,
        ended at their last recorded event (what the store has of them is all there is), with an
        ``interrupted`` event at the end of their log saying who found them and why."""
        closed: list[str] = []
        with self._write_conn() as conn:
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SWEEP_LOCK})
            rows = conn.execute(select(t.calls.c.id, t.calls.c.worker, t.calls.c.started_at)
                                .where(t.calls.c.ended_at.is_(None), t.calls.c.worker.in_(workers))).all()
            now = utcnow()
            for cid, worker, started in rows:
                last_seq, last_at = conn.execute(select(func.max(t.events.c.seq), func.max(t.events.c.at))
                                                 .where(t.events.c.call_id == cid)).one()
                conn.execute(insert(t.events).values(
                    call_id=cid, seq=0 if last_seq is None else last_seq + 1, kind="interrupted", at=now,
                    data={"event": "interrupted", "worker": worker, "reason": reason, "found_by": by}))
                conn.execute(update(t.calls).where(t.calls.c.id == cid).values(
                    ended_at=last_at or started, outcome="interrupted", ended_abruptly=True))
                closed.append(cid)
        return closed

    def workers(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t.workers).order_by(t.workers.c.id))]

    # ------------------------------------------------------------------ agent claims (PostgreSQL)

    def claim_agent(self, agent_id: str, call_ref: str) -> bool:
        """Take agent ``agent_id`` for ``call_ref`` unless another call holds them: one INSERT that
        the primary key makes atomic across every worker. False when held (or the database is
        away: never ring someone who may be ringing for another worker)."""
        try:
            with self._write_conn() as conn:
                ok = conn.execute(text(
                    "INSERT INTO agent_claims (agent_id, call_ref, worker, claimed_at) "
                    "VALUES (:a, :c, :w, :at) ON CONFLICT (agent_id) DO NOTHING"),
                    {"a": agent_id, "c": _s(call_ref, 64), "w": self.worker_id or "?", "at": utcnow()}).rowcount == 1
                if ok:
                    self._notify_claim(conn, agent_id, True)
                return ok
        except (OperationalError, DBAPIError) as exc:
            log.warning("store: could not claim agent %s (%s); not ringing them", agent_id, type(exc).__name__)
            return False

    def release_agent(self, agent_id: str, call_ref: str | None = None) -> None:
        """Give the agent back (wrap-up over, no answer...); only our own claim, and only for
        ``call_ref`` when given. At once (so this worker can claim them again right away); while
        the database is away, through the writer, so the release is delayed, not lost."""
        def op(conn: Connection) -> None:
            q = t.agent_claims.delete().where(t.agent_claims.c.agent_id == agent_id,
                                               t.agent_claims.c.worker == (self.worker_id or "?"))
            if call_ref is not None:
                q = q.where(t.agent_claims.c.call_ref == call_ref)
            if conn.execute(q).rowcount:
                self._notify_claim(conn, agent_id, False)

        try:
            with self._write_conn() as conn:
                op(conn)
        except (OperationalError, DBAPIError):
            self._submit(op, f"agent {agent_id} release")

    def agent_claims(self) -> dict[str, str]:
        """Agent id → the worker holding them."""
        with self.engine.connect() as conn:
            return {a: w for a, w in conn.execute(select(t.agent_claims.c.agent_id, t.agent_claims.c.worker))}

    def on_agent_claims(self, callback: ClaimCallback, *, loop: asyncio.AbstractEventLoop | None = None
                        ) -> Callable[[], None]:
        """``callback({agent: worker})`` with every claim, whenever one is taken or released by any
        worker (and after the listener reconnects); in ``loop`` (or the running loop) when given."""
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
        entry = (callback, loop)
        self._claim_subs.append(entry)
        return lambda: entry in self._claim_subs and self._claim_subs.remove(entry)

    # ------------------------------------------------------------------ agents signed in or away (PostgreSQL)

    def set_agent_presence(self, agent_id: str, state: str, *, name: str | None = None) -> None:
        """An agent signed in (``available``) or stepped away (``away``) on this worker: stored in
        ``agents`` with this worker's id and NOTIFYed, so every worker offers them calls or not.
        Through the writer: an outage delays it."""
        if state not in ("available", "away"):
            raise ValueError(f"state: 'available' or 'away' (got {state!r})")
        me = self.worker_id

        def op(conn: Connection) -> None:
            values = {"state": state, "state_since": utcnow(), "updated_by": me}
            if not conn.execute(update(t.agents).where(t.agents.c.id == agent_id).values(**values)).rowcount:
                conn.execute(insert(t.agents).values(id=agent_id, name=_s(redact_text(name or agent_id), 255),
                                                     sip_uri="", skills=[], **values))
            if self._postgres:
                conn.execute(text("SELECT pg_notify(:ch, :p)"), {"ch": AGENTS_CHANNEL, "p": json.dumps(
                    {"agent": agent_id, "presence": state, "worker": me})})

        self._submit(op, f"agent {agent_id} {state}")

    def agent_presence(self) -> dict[str, tuple[str, str | None]]:
        """Agent id → (stored state, the worker that set it)."""
        with self.engine.connect() as conn:
            return {a: (s, w) for a, s, w in conn.execute(select(t.agents.c.id, t.agents.c.state, t.agents.c.updated_by))}

    def on_agent_presence(self, callback: PresenceCallback, *, loop: asyncio.AbstractEventLoop | None = None
                          ) -> Callable[[], None]:
        """``callback({agent: (state, worker)})`` whenever any worker stores a signed-in state
        (and after the listener reconnects)."""
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
        entry = (callback, loop)
        self._presence_subs.append(entry)
        return lambda: entry in self._presence_subs and self._presence_subs.remove(entry)

    # ------------------------------------------------------------------ agents' REGISTER bindings (PostgreSQL)

    def save_binding(self, agent_id: str, contact: str, expires_s: float) -> None:
        """The agent's phone REGISTERed here: every worker may ring it at ``contact`` until it
        expires (``expires_s`` <= 0 removes it). Through the writer, then NOTIFYed."""
        me = self.worker_id

        def op(conn: Connection) -> None:
            conn.execute(t.agent_bindings.delete().where(t.agent_bindings.c.agent_id == agent_id))
            if expires_s > 0 and contact != "*":
                conn.execute(insert(t.agent_bindings).values(
                    agent_id=agent_id, contact=_s(contact, 255), worker=me,
                    expires_at=utcnow() + timedelta(seconds=float(expires_s))))
            if self._postgres:
                conn.execute(text("SELECT pg_notify(:ch, :p)"), {"ch": AGENTS_CHANNEL, "p": json.dumps(
                    {"agent": agent_id, "binding": True, "worker": me})})

        self._submit(op, f"agent {agent_id} binding")

    def agent_bindings(self) -> dict[str, dict[str, Any]]:
        """Agent id → {contact, expires_at, worker} for every live binding."""
        now = utcnow()
        with self.engine.connect() as conn:
            return {r.agent_id: {"contact": r.contact, "expires_at": r.expires_at, "worker": r.worker}
                    for r in conn.execute(select(t.agent_bindings).where(t.agent_bindings.c.expires_at > now))}

    def on_agent_bindings(self, callback: Callable[[dict], Any], *, loop: asyncio.AbstractEventLoop | None = None
                          ) -> Callable[[], None]:
        """``callback(agent_bindings())`` whenever any worker stores or removes a binding."""
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
        entry = (callback, loop)
        self._binding_subs.append(entry)
        return lambda: entry in self._binding_subs and self._binding_subs.remove(entry)

    def _drop_claims_of(self, workers: list[str]) -> None:
        with self._write_conn() as conn:
            gone = list(conn.scalars(select(t.agent_claims.c.agent_id).where(t.agent_claims.c.worker.in_(workers))))
            if gone:
                conn.execute(t.agent_claims.delete().where(t.agent_claims.c.worker.in_(workers)))
                for a in gone:
                    self._notify_claim(conn, a, False)

    def _notify_claim(self, conn: Connection, agent_id: str, held: bool) -> None:
        if self._postgres:
            conn.execute(text("SELECT pg_notify(:ch, :p)"), {"ch": AGENTS_CHANNEL, "p": json.dumps(
                {"agent": agent_id, "held": held, "worker": self.worker_id})})

    # ------------------------------------------------------------------ notifications (PostgreSQL)

    def _on_policy_notify(self, payload: str) -> None:
        self.refresh_policy()

    def _on_agents_notify(self, payload: str) -> None:
        try:
            doc = json.loads(payload)
        except (ValueError, TypeError):
            doc = {}
        if "presence" in doc:
            self._publish(self._presence_subs, self.agent_presence)
        elif "binding" in doc:
            self._publish(self._binding_subs, self.agent_bindings)
        else:
            self._publish(self._claim_subs, self.agent_claims)

    def _on_listen_connect(self) -> None:
        """(Re)connected: what was missed while away is re-read, not waited for."""
        self.refresh_policy()
        self._publish(self._claim_subs, self.agent_claims)
        self._publish(self._presence_subs, self.agent_presence)
        self._publish(self._binding_subs, self.agent_bindings)

    def _publish_claims(self) -> None:
        self._publish(self._claim_subs, self.agent_claims)

    @staticmethod
    def _publish(subs: list, read: Callable[[], Any]) -> None:
        if not subs:
            return
        snapshot = read()
        for cb, loop in list(subs):
            if loop is None:
                _call_safely(cb, snapshot)
            else:
                try:
                    loop.call_soon_threadsafe(_call_safely, cb, snapshot)
                except RuntimeError:  # that loop is closed
                    pass

    @property
    def listening(self) -> bool:
        """On PostgreSQL: whether the notification listener is connected now."""
        return self._listener is not None and self._listener.connected.is_set()

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

    # ------------------------------------------------------------------ metrics

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
        return round(counts.get("bot_resolved", 0) / ended, 4) if ended else None

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

    # ------------------------------------------------------------------ the policy

    @property
    def policy(self) -> tuple[int, Policy]:
        """The newest policy this process knows of, without a database read (for the call path)."""
        if self._policy is None:
            self._policy = self.current_policy()
        return self._policy

    def on_policy_change(self, callback: PolicyCallback, *, loop: asyncio.AbstractEventLoop | None = None
                         ) -> Callable[[], None]:
        """``callback(version, policy)`` after every save or rollback (see ``PolicyChanges``);
        returns a function that unsubscribes."""
        return self._changes.subscribe(callback, loop)

    def current_policy(self) -> tuple[int, Policy]:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.policy_versions.c.version, t.policy_versions.c.document)
                               .order_by(t.policy_versions.c.version.desc()).limit(1)).first()
        if row is None:
            raise LookupError("no policy stored")
        return row.version, self._policy_from(row.version, row.document)

    async def acurrent_policy(self) -> tuple[int, Policy]:
        return await self.run(self.current_policy)

    def get_policy_version(self, version: int) -> Policy | None:
        with self.engine.connect() as conn:
            doc = conn.scalar(select(t.policy_versions.c.document).where(t.policy_versions.c.version == version))
        return None if doc is None else self._policy_from(version, doc)

    @staticmethod
    def _policy_from(version: int, doc: Mapping[str, Any]) -> Policy:
        return replace(Policy.from_dict({**doc, "version": version}), version=version)

    def refresh_policy(self) -> tuple[int, Policy]:
        """Re-read the newest policy; tell the local subscribers if it is not the one we had
        (the hook for a cross-process LISTEN ivr_policy)."""
        version, policy = self.current_policy()
        old = self._policy
        self._policy = (version, policy)
        if old is None or old[0] != version:
            self._changes.publish(version, policy)
        return version, policy

    def save_policy(self, policy: Policy | Mapping[str, Any], author: str, comment: str | None = None, *,
                    expected_version: int | None = None) -> int:
        """Validate and store ``policy`` as the next version (its own ``version`` is ignored);
        returns the new version. ``PolicyError`` (naming the field) for an invalid policy,
        ``PolicyConflict`` when ``expected_version`` is given and is no longer the newest."""
        if isinstance(policy, Mapping):
            policy = Policy.from_dict(policy)
        if not isinstance(policy, Policy):
            raise TypeError("save_policy takes a Policy or a policy document")
        return self._store_policy(policy, author, comment, "save", expected_version)

    def rollback_policy(self, version: int, author: str, comment: str | None = None) -> int:
        """Make an old version current again, as a new version (history is never rewritten)."""
        old = self.get_policy_version(version)
        if old is None:
            raise LookupError(f"version: there is no policy version {version}")
        return self._store_policy(old, author, comment or f"rollback to version {version}", "rollback", None)

    def _store_policy(self, policy: Policy, author: str, comment: str | None, action: str,
                      expected_version: int | None) -> int:
        if not author:
            raise ValueError("author: a policy change needs an author")
        for attempt in range(5):
            try:
                with self._policy_lock, self._write_conn() as conn:
                    new_version = self._insert_policy(conn, policy, author, comment, action, expected_version)
                break
            except IntegrityError:  # another process took that version number first
                if attempt == 4:
                    raise
        stored = replace(policy, version=new_version)
        self._policy = (new_version, stored)
        self._changes.publish(new_version, stored)
        return new_version

    def _insert_policy(self, conn: Connection, policy: Policy, author: str, comment: str | None, action: str,
                       expected_version: int | None) -> int:
        if self._postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": POLICY_LOCK})
        cur = conn.execute(select(t.policy_versions.c.version, t.policy_versions.c.document)
                           .order_by(t.policy_versions.c.version.desc()).limit(1)).first()
        cur_version = cur.version if cur is not None else None
        if expected_version is not None and expected_version != cur_version:
            raise PolicyConflict(expected_version, cur_version)
        new_version = (cur_version or 0) + 1
        doc = replace(policy, version=new_version).to_dict()
        now = utcnow()
        conn.execute(insert(t.policy_versions).values(
            version=new_version, document=doc, author=_s(redact_text(author), 255), created_at=now,
            comment=redact_text(comment)))
        conn.execute(insert(t.policy_audit).values(
            at=now, who=_s(redact_text(author), 255), action=action, from_version=cur_version,
            to_version=new_version, diff=clean_json(policy_diff(cur.document if cur is not None else None, doc)),
            comment=redact_text(comment)))
        if self._postgres:
            conn.execute(text("SELECT pg_notify(:ch, :v)"), {"ch": NOTIFY_CHANNEL, "v": str(new_version)})
        return new_version

    def _seed_policy(self) -> None:
        with self.engine.connect() as conn:
            if conn.scalar(select(func.count()).select_from(t.policy_versions)):
                return
        policy = load_policy(self.seed_policy_path)
        try:
            with self._policy_lock, self._write_conn() as conn:
                if self._postgres:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": POLICY_LOCK})
                if conn.scalar(select(func.count()).select_from(t.policy_versions)):
                    return  # another worker seeded it first
                self._insert_policy(conn, policy, "system", f"seeded from {self.seed_policy_path.name}", "seed", None)
        except IntegrityError:
            pass

    def policy_history(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first: each version with its document, author, time, comment, and the audit
        entry that made it (action, from_version, diff)."""
        with self.engine.connect() as conn:
            versions = conn.execute(select(t.policy_versions).order_by(t.policy_versions.c.version.desc())
                                    .limit(max(1, int(limit)))).all()
            audits = {a.to_version: a for a in conn.execute(
                select(t.policy_audit).where(t.policy_audit.c.to_version.in_([v.version for v in versions])))}
        out = []
        for v in versions:
            a = audits.get(v.version)
            out.append({"version": v.version, "author": v.author, "created_at": v.created_at, "comment": v.comment,
                        "document": v.document,
                        "action": a.action if a else None, "from_version": a.from_version if a else None,
                        "diff": a.diff if a else None})
        return out

    def policy_audit(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t.policy_audit).order_by(t.policy_audit.c.id))]


__all__ = ["Store", "StoreClosed", "PolicyConflict", "PolicyChanges", "PolicyError", "OUTCOMES", "AGENTS_CHANNEL",
           "TRANSFER_RESULTS", "CALLBACK_STATUSES", "DEFAULT_URL", "NOTIFY_CHANNEL"]
