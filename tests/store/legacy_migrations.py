"""The hand-written migrations Alembic replaced (m0001..m0003 and their runner, as they were),
kept only to build old-layout databases for the upgrade tests. FROZEN: never edit.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection

from store.db import MIGRATION_LOCK, SQLITE_BEGIN, is_postgres
from store.schema import JSONDoc, UTCDateTime

m1, m2, m3, bookkeeping = MetaData(), MetaData(), MetaData(), MetaData()

schema_version = Table(
    "schema_version",
    bookkeeping,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

# --------------------------------------------------------------------------- m0001_initial

ID = String(32)  # uuid4 hex, made by the process that starts the call (no round trip)

calls = Table(
    "calls",
    m1,
    Column("id", ID, primary_key=True),
    Column("sip_call_id", String(255), index=True),
    Column("caller", String(64)),
    Column("started_at", UTCDateTime, nullable=False, index=True),
    Column("ended_at", UTCDateTime),
    Column("outcome", String(32), index=True),  # bot_resolved, transferred, caller_hung_up, abandoned
    Column("intent", String(64)),
    Column("escalation_reason", String(64), index=True),
    Column("agent", String(255)),
    Column("summary", JSONDoc),
    Column("ended_abruptly", Boolean, nullable=False, default=False),
)

turns = Table(
    "turns",
    m1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("turn_index", Integer, nullable=False),
    Column("start_s", Float),  # seconds from the start of the call
    Column("end_s", Float),
    Column("text", Text),
    Column("intent", String(64)),
    Column("confidence", Float),
    Column("entities", JSONDoc),
    Column("frustration_score", Float),
    Column("frustration_smoothed", Float),
    Column("frustration_parts", JSONDoc),
    Column("prosody", JSONDoc),
    Column("barge_in", Boolean, nullable=False, default=False),
    Index("ix_turns_call", "call_id", "turn_index"),
)

bot_replies = Table(
    "bot_replies",
    m1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),  # the reply's place in the call's event log
    Column("start_s", Float),
    Column("text", Text),
    Column("interrupted", Boolean, nullable=False, default=False),
    Column("extra", JSONDoc),
)

events = Table(
    "events",
    m1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),  # when the store was handed the event
    Column("data", JSONDoc, nullable=False),
    UniqueConstraint("call_id", "seq", name="uq_events_call_seq"),
)

decisions = Table(
    "decisions",
    m1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("decided_at", UTCDateTime, nullable=False),
    Column("action", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("rule", Text),
    Column("rule_values", JSONDoc),  # the values the rule saw
    Column("policy_version", Integer),
)

transfer_attempts = Table(
    "transfer_attempts",
    m1,
    Column("id", ID, primary_key=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("agent", String(255)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("result", String(16)),  # answered, busy, declined, no_answer, cancelled, failed
    Column("time_to_transfer", Float),  # seconds from the decision (or the attempt) to the answer
)

survey_answers = Table(
    "survey_answers",
    m1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("score", Integer, nullable=False),
    Column("answered_at", UTCDateTime, nullable=False),
)

callbacks = Table(
    "callbacks",
    m1,
    Column("id", ID, primary_key=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="SET NULL"), index=True),
    Column("number", String(64), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("status", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

policy_versions = Table(
    "policy_versions",
    m1,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("document", JSONDoc, nullable=False),
    Column("author", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("comment", Text),
)

policy_audit = Table(
    "policy_audit",
    m1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("who", String(255), nullable=False),
    Column("action", String(16), nullable=False),  # seed, save, rollback
    Column("from_version", Integer),
    Column("to_version", Integer, nullable=False),
    Column("diff", JSONDoc, nullable=False),  # {"frustration.threshold": {"from": 0.6, "to": 0.7}, ...}
    Column("comment", Text),
)

agents = Table(
    "agents",
    m1,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("sip_uri", String(255), nullable=False),
    Column("skills", JSONDoc),
    Column("state", String(32), nullable=False),  # e.g. offline, available, ringing, busy, wrap_up
    Column("state_since", UTCDateTime, nullable=False),
)


def _m0001(conn: Connection) -> None:
    m1.create_all(conn, checkfirst=True)


# --------------------------------------------------------------------------- m0002_accounts

# Migration 1's calls table, named here only so the foreign key below resolves; not created.
_calls = Table("calls", m2, Column("id", String(32), primary_key=True))

users = Table(
    "users",
    m2,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # admin, supervisor, agent
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

sessions = Table(
    "sessions",
    m2,
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie value: a leaked table signs no one in
    Column("user_name", String(64), ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

dispositions = Table(
    "dispositions",
    m2,
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


def _m0002(conn: Connection) -> None:
    m2.create_all(conn, tables=[users, sessions, dispositions], checkfirst=True)


# --------------------------------------------------------------------------- m0003_scaleout

workers = Table(
    "workers",
    m3,
    Column("id", String(64), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False, index=True),
    Column("sip", String(255)),
)

agent_claims = Table(
    "agent_claims",
    m3,
    Column("agent_id", String(64), primary_key=True),
    Column("call_ref", String(64), nullable=False),
    Column("worker", String(64), nullable=False, index=True),
    Column("claimed_at", UTCDateTime, nullable=False),
)


agent_bindings = Table(
    "agent_bindings",
    m3,
    Column("agent_id", String(64), primary_key=True),
    Column("contact", String(255), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("worker", String(64)),
)


def _m0003(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE calls ADD COLUMN worker VARCHAR(64)"))
    conn.execute(text("CREATE INDEX ix_calls_worker ON calls (worker)"))
    conn.execute(text("ALTER TABLE agents ADD COLUMN updated_by VARCHAR(64)"))
    m3.create_all(conn)


MIGRATIONS = ((1, "initial schema", _m0001), (2, "users, sessions, dispositions", _m0002),
              (3, "workers, the worker of each call, agent claims", _m0003))


def migrate_legacy(engine: Engine, upto: int = 3) -> list[int]:
    """The old ``store.db.migrate``, stopping after version ``upto``."""
    applied_now: list[int] = []
    with engine.connect() as conn:
        conn = conn.execution_options(**{SQLITE_BEGIN: "BEGIN IMMEDIATE"})
        with conn.begin():
            if is_postgres(engine):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            schema_version.create(conn, checkfirst=True)
            done = set(conn.scalars(select(schema_version.c.version)))
            for version, description, upgrade in MIGRATIONS:
                if version in done or version > upto:
                    continue
                upgrade(conn)
                conn.execute(insert(schema_version).values(
                    version=version, description=description, applied_at=datetime.now(timezone.utc)))
                applied_now.append(version)
    return applied_now
