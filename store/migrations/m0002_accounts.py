"""Migration 2: sign-in accounts, their sessions, and agents' dispositions of transferred calls.

FROZEN: this is the schema as migration 2 made it. Never edit it; add a migration.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection

from store.schema import UTCDateTime

VERSION = 2
DESCRIPTION = "users, sessions, dispositions"

metadata = MetaData()

# Migration 1's calls table, named here only so the foreign key below resolves; not created.
_calls = Table("calls", metadata, Column("id", String(32), primary_key=True))

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # admin, supervisor, agent
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie value: a leaked table signs no one in
    Column("user_name", String(64), ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

dispositions = Table(
    "dispositions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(32), ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("escalation_right", Boolean, nullable=False),
    Column("caller_frustrated", Boolean),
    Column("reason_tag", String(32), nullable=False),
    Column("note", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_dispositions_call", "call_id"),
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn, tables=[users, sessions, dispositions], checkfirst=True)
