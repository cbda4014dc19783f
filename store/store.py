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

The work is done by small repositories, one concern each (``writer``, ``calls``, ``agents``,
``claims``, ``workers``, ``policy``, ``metrics``; ``accounts`` is ``store.accounts``); ``Store``
is the one front the rest of the project sees, and only wires them together.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import threading
import weakref
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from routing.policy import DEFAULT_POLICY_PATH, Policy, PolicyError

from .accounts import Accounts
from .agents import Agents, PresenceCallback
from .auth_guard import SIP_POLICY, WEB_POLICY, AuthFailures
from .knowledge import KNOWLEDGE_CHANNEL, KnowledgeBase
from .callbacks import Callbacks
from .desktop_links import DesktopLinks
from .sip_credentials import SipCredentials
from .calls import CALLBACK_STATUSES, OUTCOMES, TRANSFER_RESULTS, Calls
from .claims import ClaimCallback, Claims
from .db import DEFAULT_URL, is_postgres, make_engine
from .listen import PgListener
from .metrics import Metrics
from .notify import AGENTS_CHANNEL, NOTIFY_CHANNEL
from .policy import PolicyCallback, PolicyChanges, PolicyConflict, Policies
from .upgrade import migrate
from .workers import Workers
from .writer import StoreClosed, Writer

T = TypeVar("T")


def _close_at_exit(ref: "weakref.ReferenceType[Store]") -> None:
    store = ref()
    if store is not None and not store._closed:
        store.close(timeout=10)


class Store:
    """See the module docstring. ``Store(url)`` migrates, seeds the policy and starts the writer."""

    def __init__(self, url: str = DEFAULT_URL, *, seed_policy_path: str | Path = DEFAULT_POLICY_PATH,
                 echo: bool = False, start: bool = True, listen: bool = True, retry_max_s: float = 2.0,
                 sip_block_s: float = SIP_POLICY.block_s):
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.accounts = Accounts(self.engine)
        # password guessing, counted for every worker; a guessing source's first block is sip_block_s
        self.auth_failures = AuthFailures(self.engine, {"sip": replace(SIP_POLICY, block_s=sip_block_s), "web": WEB_POLICY})
        self.sip_credentials = SipCredentials(self.engine)
        self.desktop_links = DesktopLinks(self.engine)
        self.seed_policy_path = Path(seed_policy_path)
        self.worker_id: str | None = None  # set by register_worker; written on each call row
        self._listen = listen
        self._listener: PgListener | None = None
        self._housekeeping_stop = threading.Event()
        self._closed = False
        self._postgres = is_postgres(self.engine)
        me = lambda: self.worker_id  # noqa: E731 - read at each write: register_worker sets it later
        self._writer = Writer(self.engine, retry_max_s=retry_max_s)
        self._calls = Calls(self.engine, self._writer, me)
        self._agents = Agents(self.engine, self._writer, me)
        self._claims = Claims(self.engine, self._writer, me)
        self._workers = Workers(self.engine, self._claims, me, self._housekeeping_stop)
        self._policies = Policies(self.engine, self.seed_policy_path)
        self._metrics = Metrics(self.engine)
        self.callbacks = Callbacks(self.engine, me)  # the callback queue's claims and retries
        self.knowledge = KnowledgeBase(self.engine)  # the knowledge base's articles, versioned (agent assist)
        if start:
            self.start()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Migrate (idempotent), seed the policy if there is none, start the writer thread."""
        if self._writer.started:
            return
        migrate(self.engine)
        self._policies.seed()
        self._policies.cached = self.current_policy()
        self._writer.start()
        if self._postgres and self._listen:
            self._listener = PgListener(self.url, {NOTIFY_CHANNEL: self._on_policy_notify,
                                                   AGENTS_CHANNEL: self._on_agents_notify,
                                                   KNOWLEDGE_CHANNEL: lambda _key: self.knowledge.refresh()},
                                        on_connect=self._on_listen_connect)
            self._listener.start()
        atexit.register(_close_at_exit, weakref.ref(self))  # drain the queue if nobody closes us

    def close(self, timeout: float | None = 30.0) -> None:
        """Write everything queued, stop the writer, release the connections."""
        if self._closed:
            return
        self._closed = True
        self._writer.refuse()
        self._housekeeping_stop.set()
        if self._listener is not None:
            self._listener.stop()
        if self._housekeeper is not None:
            self._housekeeper.join(5)
        self._writer.stop(timeout)
        self.engine.dispose()

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

    @property
    def backlog(self) -> int:
        """Writes queued and not yet written (grows while the database is unreachable)."""
        return self._writer.backlog

    @property
    def write_errors(self) -> int:
        return self._writer.write_errors

    @property
    def last_write_error(self) -> str | None:
        return self._writer.last_write_error

    @property
    def outage_since(self) -> float | None:
        """Monotonic time the database became unreachable (None while it is reachable)."""
        return self._writer.outage_since

    @property
    def write_retries(self) -> int:
        """Writes retried because the database was unreachable."""
        return self._writer.write_retries

    @property
    def retry_max_s(self) -> float:
        return self._writer.retry_max_s

    @retry_max_s.setter
    def retry_max_s(self, value: float) -> None:
        self._writer.retry_max_s = value

    async def flush(self) -> None:
        """Wait until every write queued before this call is committed (or has failed)."""
        await self._writer.flush()

    def flush_sync(self, timeout: float | None = 30.0) -> bool:
        """``flush`` for threads; False when it timed out."""
        return self._writer.flush_sync(timeout)

    # ------------------------------------------------------------------ calls (store.calls)

    def call_started(self, sip_call_id: str | None, caller: str | None, started_at: datetime | None = None,
                     *, call_id: str | None = None) -> str:
        return self._calls.call_started(sip_call_id, caller, started_at, call_id=call_id)

    def record_event(self, call_id: str, event: Mapping[str, Any], at: datetime | None = None) -> None:
        self._calls.record_event(call_id, event, at)

    def call_ended(self, call_id: str, outcome: str | None, *, abruptly: bool = False,
                   ended_at: datetime | None = None) -> None:
        self._calls.call_ended(call_id, outcome, abruptly=abruptly, ended_at=ended_at)

    def transfer_attempt_started(self, call_id: str, agent: str | None, started_at: datetime | None = None) -> str:
        return self._calls.transfer_attempt_started(call_id, agent, started_at)

    def transfer_attempt_finished(self, attempt_id: str, result: str, at: datetime | None = None) -> None:
        self._calls.transfer_attempt_finished(attempt_id, result, at)

    def transfer_attempt_ended(self, attempt_id: str, at: datetime | None = None) -> None:
        self._calls.transfer_attempt_ended(attempt_id, at)

    def survey(self, call_id: str, score: int, at: datetime | None = None) -> None:
        self._calls.survey(call_id, score, at)

    def add_callback(self, call_id: str | None, number: str, requested_at: datetime | None = None,
                     status: str = "pending", **queue: Any) -> str:
        """``queue``: ``skill``, ``summary``, ``consent`` (see ``store.callbacks``)."""
        return self._calls.add_callback(call_id, number, requested_at, status, **queue)

    def set_callback_status(self, callback_id: str, status: str, at: datetime | None = None) -> None:
        self._calls.set_callback_status(callback_id, status, at)

    def list_calls(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self._calls.list_calls(limit, offset)

    def count_calls(self) -> int:
        return self._calls.count_calls()

    def get_call(self, call_id: str) -> dict[str, Any] | None:
        return self._calls.get_call(call_id)

    def get_events(self, call_id: str) -> list[dict[str, Any]]:
        return self._calls.get_events(call_id)

    def list_callbacks(self, status: str | None = None) -> list[dict[str, Any]]:
        return self._calls.list_callbacks(status)

    # ------------------------------------------------------------------ agents (store.agents, store.claims)

    def upsert_agent(self, agent_id: str, name: str, sip_uri: str, skills: list[str] | None = None,
                     state: str = "offline", at: datetime | None = None) -> None:
        self._agents.upsert_agent(agent_id, name, sip_uri, skills, state, at)

    def set_agent_state(self, agent_id: str, state: str, at: datetime | None = None) -> None:
        self._agents.set_agent_state(agent_id, state, at)

    def list_agents(self) -> list[dict[str, Any]]:
        return self._agents.list_agents()

    def set_agent_presence(self, agent_id: str, state: str, *, name: str | None = None) -> None:
        self._agents.set_agent_presence(agent_id, state, name=name)

    def agent_presence(self) -> dict[str, tuple[str, str | None]]:
        return self._agents.agent_presence()

    def on_agent_presence(self, callback: PresenceCallback, *, loop: asyncio.AbstractEventLoop | None = None
                          ) -> Callable[[], None]:
        return self._agents.on_agent_presence(callback, loop=loop)

    def save_binding(self, agent_id: str, contact: str, expires_s: float) -> None:
        self._agents.save_binding(agent_id, contact, expires_s)

    def agent_bindings(self) -> dict[str, dict[str, Any]]:
        return self._agents.agent_bindings()

    def on_agent_bindings(self, callback: Callable[[dict], Any], *, loop: asyncio.AbstractEventLoop | None = None
                          ) -> Callable[[], None]:
        return self._agents.on_agent_bindings(callback, loop=loop)

    def claim_agent(self, agent_id: str, call_ref: str) -> bool:
        return self._claims.claim_agent(agent_id, call_ref)

    def release_agent(self, agent_id: str, call_ref: str | None = None) -> None:
        self._claims.release_agent(agent_id, call_ref)

    def agent_claims(self) -> dict[str, str]:
        return self._claims.agent_claims()

    def on_agent_claims(self, callback: ClaimCallback, *, loop: asyncio.AbstractEventLoop | None = None
                        ) -> Callable[[], None]:
        return self._claims.on_agent_claims(callback, loop=loop)

    # ------------------------------------------------------------------ workers (store.workers)

    def register_worker(self, worker_id: str, *, sip: str | None = None, heartbeat_s: float = 2.0,
                        stale_s: float = 10.0) -> list[str]:
        """This process is worker ``worker_id``: its calls carry the id from now on. Closes, as
        ``interrupted``, the calls it left open before a restart and drops its old agent claims;
        then heartbeats every ``heartbeat_s`` and, as often, closes the calls of workers whose
        heartbeat is older than ``stale_s``. Returns the ids of the calls closed now."""
        if not worker_id or len(worker_id) > 64:
            raise ValueError("worker_id: 1 to 64 characters")
        self.worker_id = worker_id
        return self._workers.register(worker_id, sip=sip, heartbeat_s=heartbeat_s, stale_s=stale_s)

    @property
    def _housekeeper(self) -> threading.Thread | None:
        return self._workers.housekeeper

    def sweep_dead_workers(self, stale_s: float) -> list[str]:
        return self._workers.sweep_dead_workers(stale_s)

    def close_calls_of(self, workers: list[str], *, by: str, reason: str) -> list[str]:
        return self._workers.close_calls_of(workers, by=by, reason=reason)

    def workers(self) -> list[dict[str, Any]]:
        return self._workers.workers()

    # ------------------------------------------------------------------ notifications (PostgreSQL)

    def _on_policy_notify(self, payload: str) -> None:
        self.refresh_policy()

    def _on_agents_notify(self, payload: str) -> None:
        try:
            doc = json.loads(payload)
        except (ValueError, TypeError):
            doc = {}
        if "presence" in doc:
            self._agents.publish_presence()
        elif "binding" in doc:
            self._agents.publish_bindings()
        else:
            self._claims.publish()

    def _on_listen_connect(self) -> None:
        """(Re)connected: what was missed while away is re-read, not waited for."""
        self.refresh_policy()
        self.knowledge.refresh()  # an article edited while away
        self._claims.publish()
        self._agents.publish_presence()
        self._agents.publish_bindings()

    @property
    def listening(self) -> bool:
        """On PostgreSQL: whether the notification listener is connected now."""
        return self._listener is not None and self._listener.connected.is_set()

    # ------------------------------------------------------------------ metrics (store.metrics)

    def metrics(self, since: datetime | None = None) -> dict[str, Any]:
        return self._metrics.metrics(since)

    def outcome_counts(self, since: datetime | None = None) -> dict[str, int]:
        return self._metrics.outcome_counts(since)

    def containment_rate(self, since: datetime | None = None) -> float | None:
        return self._metrics.containment_rate(since)

    def escalations_by_reason(self, since: datetime | None = None) -> dict[str, int]:
        return self._metrics.escalations_by_reason(since)

    def time_to_transfer(self, since: datetime | None = None) -> list[float]:
        return self._metrics.time_to_transfer(since)

    def transfer_outcomes(self, since: datetime | None = None) -> dict[str, Any]:
        return self._metrics.transfer_outcomes(since)

    def survey_scores(self, since: datetime | None = None) -> dict[str, Any]:
        return self._metrics.survey_scores(since)

    # ------------------------------------------------------------------ the policy (store.policy)

    @property
    def policy(self) -> tuple[int, Policy]:
        """The newest policy this process knows of, without a database read (for the call path)."""
        return self._policies.policy

    def on_policy_change(self, callback: PolicyCallback, *, loop: asyncio.AbstractEventLoop | None = None
                         ) -> Callable[[], None]:
        return self._policies.on_policy_change(callback, loop=loop)

    def current_policy(self) -> tuple[int, Policy]:
        return self._policies.current_policy()

    async def acurrent_policy(self) -> tuple[int, Policy]:
        return await self.run(self.current_policy)

    def get_policy_version(self, version: int) -> Policy | None:
        return self._policies.get_policy_version(version)

    def refresh_policy(self) -> tuple[int, Policy]:
        return self._policies.refresh_policy()

    def save_policy(self, policy: Policy | Mapping[str, Any], author: str, comment: str | None = None, *,
                    expected_version: int | None = None) -> int:
        return self._policies.save_policy(policy, author, comment, expected_version=expected_version)

    def rollback_policy(self, version: int, author: str, comment: str | None = None) -> int:
        return self._policies.rollback_policy(version, author, comment)

    def policy_history(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._policies.policy_history(limit)

    def policy_audit(self) -> list[dict[str, Any]]:
        return self._policies.policy_audit()


__all__ = ["Store", "StoreClosed", "PolicyConflict", "PolicyChanges", "PolicyError", "OUTCOMES", "AGENTS_CHANNEL",
           "TRANSFER_RESULTS", "CALLBACK_STATUSES", "DEFAULT_URL", "NOTIFY_CHANNEL"]
