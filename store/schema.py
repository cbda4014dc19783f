"""The store's tables as they are now (SQLAlchemy Core), for the queries.

The database is created and upgraded only by the Alembic revisions in ``store/alembic/versions``
(``store.upgrade``); this module must describe the schema the latest revision leaves behind (a
test autogenerates against a migrated database and expects no difference). A schema change is an
edit here plus a new revision (``alembic -c store/alembic.ini revision --autogenerate``), never an
edit of a released revision.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import true as sa_true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

# JSON on SQLite, JSONB on PostgreSQL.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the backend keeps (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware (UTC) datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


ID = String(32)  # uuid4 hex, made by the process that starts the call (no round trip)

calls = Table(
    "calls",
    metadata,
    Column("id", ID, primary_key=True),
    Column("sip_call_id", String(255), index=True),
    Column("caller", String(64)),
    Column("started_at", UTCDateTime, nullable=False, index=True),
    Column("ended_at", UTCDateTime),
    Column("outcome", String(32), index=True),  # bot_resolved, transferred, caller_hung_up, abandoned, interrupted
    Column("intent", String(64)),
    Column("escalation_reason", String(64), index=True),
    Column("agent", String(255)),
    Column("summary", JSONDoc),
    Column("ended_abruptly", Boolean, nullable=False, default=False),
    Column("worker", String(64), index=True),  # the `ivr serve` worker that took the call (revision 0003)
)

turns = Table(
    "turns",
    metadata,
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
    metadata,
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
    metadata,
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
    metadata,
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
    metadata,
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
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("score", Integer, nullable=False),
    Column("answered_at", UTCDateTime, nullable=False),
)

callbacks = Table(
    "callbacks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="SET NULL"), index=True),
    Column("number", String(64), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("status", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The callback queue (revision 0005): what to ring, who may take it, and where its retries stand.
    Column("skill", String(64)),
    Column("summary", JSONDoc),
    Column("consent", Boolean, nullable=False, server_default=sa_true()),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_try_at", UTCDateTime),
    Column("claimed_by", String(64)),
    Column("claimed_at", UTCDateTime),
    Column("agent", String(64)),
    Column("last_result", String(32)),
    Index("ix_callbacks_status_next_try_at", "status", "next_try_at"),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("document", JSONDoc, nullable=False),
    Column("author", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("comment", Text),
)

policy_audit = Table(
    "policy_audit",
    metadata,
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
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("sip_uri", String(255), nullable=False),
    Column("skills", JSONDoc),
    Column("state", String(32), nullable=False),  # e.g. offline, available, ringing, busy, wrap_up
    Column("state_since", UTCDateTime, nullable=False),
    Column("updated_by", String(64)),  # the worker that wrote the state (revision 0003)
)

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
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie value
    Column("user_name", String(64), ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

dispositions = Table(
    "dispositions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", ID, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("escalation_right", Boolean, nullable=False),
    Column("caller_frustrated", Boolean),
    Column("reason_tag", String(32), nullable=False),
    Column("note", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved", Boolean),  # the agent's "was it resolved?" (revision 0007); None: not asked
    Index("ix_dispositions_call", "call_id"),
)

# Revision 0003: workers sharing one database.
workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False, index=True),
    Column("sip", String(255)),
)

agent_bindings = Table(
    "agent_bindings",
    metadata,
    Column("agent_id", String(64), primary_key=True),  # the live REGISTER binding of the agent's phone
    Column("contact", String(255), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("worker", String(64)),
)

agent_claims = Table(
    "agent_claims",
    metadata,
    Column("agent_id", String(64), primary_key=True),  # one claim per agent, whoever holds it
    Column("call_ref", String(64), nullable=False),
    Column("worker", String(64), nullable=False, index=True),
    Column("claimed_at", UTCDateTime, nullable=False),
)

# Revision 0004: what withstands password guessing, shared by every worker.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("scope", String(16), primary_key=True),  # "sip" (REGISTER digest) or "web" (the panel's sign-in)
    Column("kind", String(8), primary_key=True),  # "source" (an IP address) or "user" (the name tried)
    Column("subject", String(128), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),  # in the current window
    Column("strikes", Integer, nullable=False, default=0),  # times it went past the threshold: the block grows
    Column("last_at", Float, nullable=False),  # epoch seconds of the last failure
    Column("blocked_until", Float),  # epoch seconds; a source is refused until then
    Column("flagged_at", Float),  # epoch seconds a user went past the threshold (shown on the panel)
)

sip_credentials = Table(
    "sip_credentials",
    metadata,
    Column("agent_id", String(64), primary_key=True),  # the digest user name of the agent's phone
    Column("realm", String(64), nullable=False),
    Column("ha1_md5", String(32), nullable=False),  # MD5(user:realm:password), never the password
    Column("ha1_sha256", String(64), nullable=False),  # SHA-256(user:realm:password), RFC 7616/8760
    Column("updated_at", UTCDateTime, nullable=False),
)

desktop_revocations = Table(
    "desktop_revocations",
    metadata,
    Column("agent_id", String(64), primary_key=True),  # desktop links of this agent issued before...
    Column("not_before", Float, nullable=False),  # ...these epoch seconds are refused (`ivr desktop-url --revoke`)
)

# ---- agent assist: the knowledge base, versioned and audited like the policy (revision 0006) ----
kb_versions = Table(
    "kb_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),  # the article's name, e.g. opening_hours (flows.yaml's kb:)
    Column("version", Integer, nullable=False),  # per article, only grows
    Column("question", Text, nullable=False),  # what a caller asks (the search matches it)
    Column("answer", Text, nullable=False),  # what the bot says and the agent reads
    Column("author", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("comment", Text),
    UniqueConstraint("key", "version", name="uq_kb_versions_key_version"),
)

kb_audit = Table(
    "kb_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("who", String(255), nullable=False),
    Column("action", String(16), nullable=False),  # seed, save, rollback
    Column("key", String(64), nullable=False),
    Column("from_version", Integer),
    Column("to_version", Integer, nullable=False),
    Column("diff", JSONDoc, nullable=False),  # {"answer": {"from": ..., "to": ...}}
    Column("comment", Text),
)
