"""Migration 3: what several workers sharing one database need.

- ``calls.worker``: which ``ivr serve`` worker took the call, so the calls a dead worker left
  open can be found and closed as ``interrupted``.
- ``workers``: one row per live worker with its heartbeat (a stale heartbeat means a dead worker).
- ``agent_claims``: at most one row per agent (the primary key), held from ringing to the end of
  wrap-up by the worker whose call it is: two workers can never ring one agent at once.
- ``agent_bindings``: an agent's phone REGISTERed with one worker (the one Kamailio sent the
  REGISTER to); every worker must be able to ring it there.
- ``agents.updated_by``: the worker that last wrote an agent's signed-in state (away or
  available), so the others take it on and the writer does not.

(Migration 2 is the web panel's users table; the numbers only order the migrations.)

FROZEN once released: never edit it; add a migration.
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, text
from sqlalchemy.engine import Connection

from store.schema import UTCDateTime

VERSION = 3
DESCRIPTION = "workers, the worker of each call, agent claims"

metadata = MetaData()

workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False, index=True),
    Column("sip", String(255)),
)

agent_claims = Table(
    "agent_claims",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("call_ref", String(64), nullable=False),
    Column("worker", String(64), nullable=False, index=True),
    Column("claimed_at", UTCDateTime, nullable=False),
)


agent_bindings = Table(
    "agent_bindings",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("contact", String(255), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("worker", String(64)),
)


def upgrade(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE calls ADD COLUMN worker VARCHAR(64)"))
    conn.execute(text("CREATE INDEX ix_calls_worker ON calls (worker)"))
    conn.execute(text("ALTER TABLE agents ADD COLUMN updated_by VARCHAR(64)"))
    metadata.create_all(conn)
