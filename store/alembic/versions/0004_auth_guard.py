"""Password guessing withstood by every worker together (issue 19).

- ``auth_failures``: failed digest answers (REGISTER) and failed panel sign-ins, counted per
  source address and per user name, with the growing block of a source and the flag of a user.
- ``sip_credentials``: agents' phone credentials as digest HA1 (MD5 and SHA-256), never plain.
- ``desktop_revocations``: per agent, the time before which its signed desktop links are refused.

FROZEN: never edit a released revision; add one.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auth_failures',
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('strikes', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.Float(), nullable=False),
    sa.Column('blocked_until', sa.Float(), nullable=True),
    sa.Column('flagged_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('scope', 'kind', 'subject')
    )
    op.create_table('sip_credentials',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('realm', sa.String(length=64), nullable=False),
    sa.Column('ha1_md5', sa.String(length=32), nullable=False),
    sa.Column('ha1_sha256', sa.String(length=64), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('agent_id')
    )
    op.create_table('desktop_revocations',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('not_before', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('agent_id')
    )


def downgrade() -> None:
    op.drop_table('desktop_revocations')
    op.drop_table('sip_credentials')
    op.drop_table('auth_failures')
