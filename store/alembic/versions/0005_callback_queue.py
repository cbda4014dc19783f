"""The callback queue: a promised callback is a row the scheduler works through.

- ``callbacks.skill``, ``summary``: which agents may take it and what their screen pop shows.
- ``callbacks.consent``: the caller said yes to being called back (rows before this revision did).
- ``callbacks.attempts``, ``next_try_at``, ``last_result``: the retries with backoff.
- ``callbacks.claimed_by``, ``claimed_at``: the worker placing it now (one UPDATE claims it, so
  two workers never dial one caller twice); ``agent``: who took it.

FROZEN: never edit a released revision; add one.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.schema import JSONDoc, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("skill", "summary", "consent", "attempts", "next_try_at", "claimed_by", "claimed_at", "agent",
            "last_result")


def upgrade() -> None:
    op.add_column('callbacks', sa.Column('skill', sa.String(length=64), nullable=True))
    op.add_column('callbacks', sa.Column('summary', JSONDoc, nullable=True))
    op.add_column('callbacks', sa.Column('consent', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column('callbacks', sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
    op.add_column('callbacks', sa.Column('next_try_at', UTCDateTime(), nullable=True))
    op.add_column('callbacks', sa.Column('claimed_by', sa.String(length=64), nullable=True))
    op.add_column('callbacks', sa.Column('claimed_at', UTCDateTime(), nullable=True))
    op.add_column('callbacks', sa.Column('agent', sa.String(length=64), nullable=True))
    op.add_column('callbacks', sa.Column('last_result', sa.String(length=32), nullable=True))
    op.create_index('ix_callbacks_status_next_try_at', 'callbacks', ['status', 'next_try_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_callbacks_status_next_try_at', table_name='callbacks')
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would rebuild the table.
    for name in reversed(_COLUMNS):
        op.drop_column('callbacks', name)
