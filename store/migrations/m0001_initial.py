"""Migration 1: the first schema (calls, turns, replies, events, decisions, transfers, surveys,
callbacks, policy versions and their audit, agents).

FROZEN: this is the schema as migration 1 made it. Never edit it; add a migration.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
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
from sqlalchemy.engine import Connection

from store.schema import JSONDoc, UTCDateTime

VERSION = 1
DESCRIPTION = "initial schema"

metadata = MetaData()

ID = String(32)  # uuid4 hex, made by the process that starts the call (no round trip)

calls = Table(
    "calls",
    metadata,
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
)


def upgrade(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)
