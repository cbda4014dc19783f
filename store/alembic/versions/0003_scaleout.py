"""What several workers sharing one database need (the hand-written migration 3, m0003_scaleout).

- ``calls.worker``: which ``ivr serve`` worker took the call, so the calls a dead worker left
  open can be found and closed as ``interrupted``.
- ``workers``: one row per live worker with its heartbeat (a stale heartbeat means a dead worker).
- ``agent_claims``: at most one row per agent (the primary key), held from ringing to the end of
  wrap-up by the worker whose call it is: two workers can never ring one agent at once.
- ``agent_bindings``: an agent's phone REGISTERed with one worker; every worker must be able to
  ring it there.
- ``agents.updated_by``: the worker that last wrote an agent's signed-in state.

FROZEN: never edit a released revision; add one.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('calls', sa.Column('worker', sa.String(length=64), nullable=True))
    op.create_index('ix_calls_worker', 'calls', ['worker'], unique=False)
    op.add_column('agents', sa.Column('updated_by', sa.String(length=64), nullable=True))
    op.create_table('workers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('heartbeat_at', UTCDateTime(), nullable=False),
    sa.Column('sip', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_workers_heartbeat_at'), 'workers', ['heartbeat_at'], unique=False)
    op.create_table('agent_claims',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('call_ref', sa.String(length=64), nullable=False),
    sa.Column('worker', sa.String(length=64), nullable=False),
    sa.Column('claimed_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('agent_id')
    )
    op.create_index(op.f('ix_agent_claims_worker'), 'agent_claims', ['worker'], unique=False)
    op.create_table('agent_bindings',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('contact', sa.String(length=255), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('worker', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('agent_id')
    )


def downgrade() -> None:
    op.drop_table('agent_bindings')
    op.drop_index(op.f('ix_agent_claims_worker'), table_name='agent_claims')
    op.drop_table('agent_claims')
    op.drop_index(op.f('ix_workers_heartbeat_at'), table_name='workers')
    op.drop_table('workers')
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of ``calls`` would cascade-delete its rows.
    op.drop_column('agents', 'updated_by')
    op.drop_index('ix_calls_worker', table_name='calls')
    op.drop_column('calls', 'worker')
