"""The versioned escalation policy: seed, save, rollback, history and the audit trail.

Policy changes are synchronous admin actions, never queued: the editor must know at once whether
its version was taken. Versions only grow (a rollback is a new version with an old document);
each change writes its audit entry (who, from which version, the diff) in the same transaction.
Subscribers (``on_change``) hear of a change after the commit; on PostgreSQL every change also
sends ``NOTIFY ivr_policy, '<version>'``, and each worker's listener calls ``refresh()``, which
re-reads the newest version and tells the local subscribers when it changed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from routing.policy import Policy, load_policy

from . import schema as t
from .clean import clean_json, policy_diff, redact_text
from .db import POLICY_LOCK, write_conn
from .notify import NOTIFY_CHANNEL, pg_notify
from .values import cut as _s
from .values import utcnow

log = logging.getLogger("store")

PolicyCallback = Callable[[int, Policy], Any]


class PolicyConflict(RuntimeError):
    """The policy changed since the version the editor started from."""

    def __init__(self, expected: int, current: int | None):
        super().__init__(f"version: the policy is now version {current}, not {expected}; reload and edit again")
        self.expected = expected
        self.current = current


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


class Policies:
    """The policy repository; ``cached`` is the newest version this process knows of."""

    def __init__(self, engine: Engine, seed_path: Path):
        self.engine = engine
        self.seed_path = seed_path
        self.cached: tuple[int, Policy] | None = None
        self._postgres = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._changes = PolicyChanges()

    @property
    def policy(self) -> tuple[int, Policy]:
        """The newest policy this process knows of, without a database read (for the call path)."""
        if self.cached is None:
            self.cached = self.current_policy()
        return self.cached

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
        with self._cache_lock:
            old = self.cached
            self.cached = (version, policy)
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
                with self._lock, write_conn(self.engine) as conn:
                    new_version = self._insert_policy(conn, policy, author, comment, action, expected_version)
                break
            except IntegrityError:  # another process took that version number first
                if attempt == 4:
                    raise
        stored = replace(policy, version=new_version)
        # The listener may have heard our own NOTIFY and refreshed already: publish each version once.
        with self._cache_lock:
            fresh = self.cached is None or self.cached[0] < new_version
            if fresh:
                self.cached = (new_version, stored)
        if fresh:
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
            pg_notify(conn, NOTIFY_CHANNEL, str(new_version))
        return new_version

    def seed(self) -> None:
        """Store the seed file's policy as version 1 when there is no policy yet (once, whoever
        of several workers starting together gets there first)."""
        with self.engine.connect() as conn:
            if conn.scalar(select(func.count()).select_from(t.policy_versions)):
                return
        policy = load_policy(self.seed_path)
        try:
            with self._lock, write_conn(self.engine) as conn:
                if self._postgres:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": POLICY_LOCK})
                if conn.scalar(select(func.count()).select_from(t.policy_versions)):
                    return  # another worker seeded it first
                self._insert_policy(conn, policy, "system", f"seeded from {self.seed_path.name}", "seed", None)
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

