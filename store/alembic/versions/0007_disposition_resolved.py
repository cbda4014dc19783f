"""Resolution after hand-off: the agent's disposition says whether the caller's problem was resolved.

- ``dispositions.resolved``: true, false, or NULL (a disposition filed before this revision, or
  one that did not say).

FROZEN: never edit a released revision; add one.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('dispositions', sa.Column('resolved', sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column('dispositions', 'resolved')  # plain DROP COLUMN (SQLite 3.35+)
