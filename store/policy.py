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
from .notify import NOTIFY_CHANNEL, Subscribers, pg_notify
from .values import cut as _s
from .values import utcnow


PolicyCallback = Callable[[int, Policy], Any]


class PolicyConflict(RuntimeError):
    """The policy changed since the version the editor started from."""

    def __init__(self, expected: int, current: int | None):
        super().__init__(f"version: the policy is now version {current}, not {expected}; reload and edit again")
        self.expected = expected
        self.current = current


class PolicyChanges(Subscribers):
    """In-process subscribers to policy changes: ``callback(version, policy)``, told as
    ``notify(version, policy)`` (`store.notify.Subscribers`: in the registering loop, a coroutine
    function as a task there, else in the thread that made the change)."""


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
        """Re-read the newest policy; tell the local subscribers if it is newer than the one we
        had (the hook for a cross-process LISTEN ivr_policy). Only forward: versions only grow,
        and a read made before a save here committed must not put the cache (and the calls)
        back a version, nor publish both versions again (seen on PostgreSQL, where the listener
        thread's refresh for version 2 landed after this process's save of version 3)."""
        version, policy = self.current_policy()
        with self._cache_lock:
            newer = self.cached is None or self.cached[0] < version
            if newer:
                self.cached = (version, policy)
            current = self.cached
        if newer:
            self._changes.notify(version, policy)
        return current

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
            self._changes.notify(new_version, stored)
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

