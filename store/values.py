"""Small value helpers every repository uses: ids, times, and fields cut to fit their columns.

They are pure (no I/O), so each repository coerces what it is given the same way before it
reaches the database.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import Connection

Op = Callable[[Connection], None]  # one write, applied by the writer thread in its own transaction


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


def cut(value: Any, n: int) -> str | None:
    """A string cut to a column's length (PostgreSQL enforces it; SQLite does not)."""
    if value is None:
        return None
    return str(value)[:n]


def num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def aware(at: datetime | None) -> datetime:
    """``at`` (now when None); a naive datetime is refused in the caller, not in the writer."""
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise ValueError("give the store aware datetimes (e.g. datetime.now(timezone.utc))")
    return at


def stmt_op(stmt: Any) -> Op:
    def op(conn: Connection) -> None:
        conn.execute(stmt)
    return op
