"""Sign-in accounts, sessions and agents' dispositions: small synchronous admin writes.

These are not call events (no writer queue): a sign-in must be readable by the next request,
and a disposition is one form post. Session cookies are random 256-bit values; only their
SHA-256 is stored, so a copy of the table signs no one in. Password hashes are made by
``web.auth`` (argon2id); this module only keeps them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from . import schema as t
from .clean import redact_text

ROLES = ("admin", "supervisor", "agent")
REASON_TAGS = ("frustrated_caller", "asked_for_person", "sensitive_topic", "bot_misunderstood",
               "bot_could_have_solved", "verification", "other")


class AccountError(ValueError):
    """An account operation that cannot be done; the message is one line for the user."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, engine: Engine):
        self.engine = engine

    # ---------------------------------------------------------------- users
    def add_user(self, name: str, role: str, password_hash: str, *, replace: bool = False) -> None:
        if role not in ROLES:
            raise AccountError(f"role: must be one of {', '.join(ROLES)} (got {role!r})")
        if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
            raise AccountError("name: 1-64 letters, digits, '.', '_', '-' or '@'")
        row = {"name": name, "role": role, "password_hash": password_hash, "created_at": _now(), "disabled": False}
        with self.engine.begin() as conn:
            exists = conn.scalar(select(t.users.c.name).where(t.users.c.name == name))
            if exists and not replace:
                raise AccountError(f"user {name!r} exists (use --replace to set a new password and role)")
            if exists:
                conn.execute(update(t.users).where(t.users.c.name == name)
                             .values(role=role, password_hash=password_hash, disabled=False))
                conn.execute(delete(t.sessions).where(t.sessions.c.user_name == name))  # old sign-ins end
            else:
                try:
                    conn.execute(insert(t.users).values(**row))
                except IntegrityError:
                    raise AccountError(f"user {name!r} exists") from None

    def get_user(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
        return dict(row._mapping) if row else None

    def list_users(self) -> list[dict[str, Any]]:
        cols = [t.users.c.name, t.users.c.role, t.users.c.created_at, t.users.c.disabled]
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(*cols).order_by(t.users.c.name))]

    def set_password_hash(self, name: str, password_hash: str) -> None:
        """Re-hash on sign-in when the hashing parameters have been raised."""
        with self.engine.begin() as conn:
            conn.execute(update(t.users).where(t.users.c.name == name).values(password_hash=password_hash))

    # ---------------------------------------------------------------- sessions
    def create_session(self, name: str, ttl: timedelta) -> tuple[str, str]:
        """A new session: (cookie value, CSRF token). The cookie value is never stored."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.expires_at < now))  # sweep as we go
            conn.execute(insert(t.sessions).values(id_hash=_hash(token), user_name=name, csrf=csrf,
                                                   created_at=now, expires_at=now + ttl))
        return token, csrf

    def session(self, token: str) -> tuple[dict[str, Any], str] | None:
        """(user, CSRF token) for a live session of an enabled user; None otherwise."""
        if not token or len(token) > 128:
            return None
        q = (select(t.users.c.name, t.users.c.role, t.users.c.disabled, t.sessions.c.csrf, t.sessions.c.expires_at)
             .join(t.users, t.users.c.name == t.sessions.c.user_name)
             .where(t.sessions.c.id_hash == _hash(token)))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None or row.disabled or row.expires_at <= _now():
            return None
        return {"name": row.name, "role": row.role}, row.csrf

    def end_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.id_hash == _hash(token)))

    # ---------------------------------------------------------------- dispositions
    def add_disposition(self, call_id: str, agent: str, *, escalation_right: bool, reason_tag: str,
                        caller_frustrated: bool | None = None, note: str | None = None,
                        resolved: bool | None = None) -> int:
        if reason_tag not in REASON_TAGS:
            raise AccountError(f"reason_tag: must be one of {', '.join(REASON_TAGS)} (got {reason_tag!r})")
        if note is not None and len(note) > 2000:
            raise AccountError("note: at most 2000 characters")
        with self.engine.begin() as conn:
            if conn.scalar(select(t.calls.c.id).where(t.calls.c.id == call_id)) is None:
                raise AccountError(f"no call {call_id}")
            result = conn.execute(insert(t.dispositions).values(
                call_id=call_id, agent=agent, escalation_right=bool(escalation_right),
                caller_frustrated=caller_frustrated, reason_tag=reason_tag, resolved=resolved,
                note=redact_text(note) if note else None, created_at=_now()))
            return int(result.inserted_primary_key[0])

    def dispositions(self, call_id: str | None = None) -> list[dict[str, Any]]:
        q = select(t.dispositions).order_by(t.dispositions.c.id)
        if call_id is not None:
            q = q.where(t.dispositions.c.call_id == call_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]
