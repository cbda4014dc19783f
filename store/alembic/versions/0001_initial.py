"""The first schema (calls, turns, replies, events, decisions, transfers, surveys, callbacks,
policy versions and their audit, agents): the hand-written migration 1 (m0001_initial), as
Alembic operations.

FROZEN: never edit a released revision; add one.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.schema import JSONDoc, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agents',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('sip_uri', sa.String(length=255), nullable=False),
    sa.Column('skills', JSONDoc, nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('state_since', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('calls',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('sip_call_id', sa.String(length=255), nullable=True),
    sa.Column('caller', sa.String(length=64), nullable=True),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('escalation_reason', sa.String(length=64), nullable=True),
    sa.Column('agent', sa.String(length=255), nullable=True),
    sa.Column('summary', JSONDoc, nullable=True),
    sa.Column('ended_abruptly', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_calls_escalation_reason'), 'calls', ['escalation_reason'], unique=False)
    op.create_index(op.f('ix_calls_outcome'), 'calls', ['outcome'], unique=False)
    op.create_index(op.f('ix_calls_sip_call_id'), 'calls', ['sip_call_id'], unique=False)
    op.create_index(op.f('ix_calls_started_at'), 'calls', ['started_at'], unique=False)
    op.create_table('policy_audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('who', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_version', sa.Integer(), nullable=True),
    sa.Column('to_version', sa.Integer(), nullable=False),
    sa.Column('diff', JSONDoc, nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('policy_versions',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('document', JSONDoc, nullable=False),
    sa.Column('author', sa.String(length=255), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('version')
    )
    op.create_table('bot_replies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('interrupted', sa.Boolean(), nullable=False),
    sa.Column('extra', JSONDoc, nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_bot_replies_call_id'), 'bot_replies', ['call_id'], unique=False)
    op.create_table('callbacks',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('call_id', sa.String(length=32), nullable=True),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('requested_at', UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_callbacks_call_id'), 'callbacks', ['call_id'], unique=False)
    op.create_table('decisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_id', sa.String(length=32), nullable=False),
    sa.Column('decided_at', UTCDateTime(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('rule', sa.Text(), nullable=True),
    sa.Column('rule_values', JSONDoc, nullable=True),
    sa.Column('policy_version', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_decisions_call_id'), 'decisions', ['call_id'], unique=False)
    op.create_table('events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('data', JSONDoc, nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_id', 'seq', name='uq_events_call_seq')
    )
    op.create_table('survey_answers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_id', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('answered_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_survey_answers_call_id'), 'survey_answers', ['call_id'], unique=False)
    op.create_table('transfer_attempts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('call_id', sa.String(length=32), nullable=False),
    sa.Column('agent', sa.String(length=255), nullable=True),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('answered_at', UTCDateTime(), nullable=True),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('time_to_transfer', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_transfer_attempts_call_id'), 'transfer_attempts', ['call_id'], unique=False)
    op.create_table('turns',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_id', sa.String(length=32), nullable=False),
    sa.Column('turn_index', sa.Integer(), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=True),
    sa.Column('end_s', sa.Float(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('entities', JSONDoc, nullable=True),
    sa.Column('frustration_score', sa.Float(), nullable=True),
    sa.Column('frustration_smoothed', sa.Float(), nullable=True),
    sa.Column('frustration_parts', JSONDoc, nullable=True),
    sa.Column('prosody', JSONDoc, nullable=True),
    sa.Column('barge_in', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_turns_call', 'turns', ['call_id', 'turn_index'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_turns_call', table_name='turns')
    op.drop_table('turns')
    op.drop_index(op.f('ix_transfer_attempts_call_id'), table_name='transfer_attempts')
    op.drop_table('transfer_attempts')
    op.drop_index(op.f('ix_survey_answers_call_id'), table_name='survey_answers')
    op.drop_table('survey_answers')
    op.drop_table('events')
    op.drop_index(op.f('ix_decisions_call_id'), table_name='decisions')
    op.drop_table('decisions')
    op.drop_index(op.f('ix_callbacks_call_id'), table_name='callbacks')
    op.drop_table('callbacks')
    op.drop_index(op.f('ix_bot_replies_call_id'), table_name='bot_replies')
    op.drop_table('bot_replies')
    op.drop_table('policy_versions')
    op.drop_table('policy_audit')
    op.drop_index(op.f('ix_calls_started_at'), table_name='calls')
    op.drop_index(op.f('ix_calls_sip_call_id'), table_name='calls')
    op.drop_index(op.f('ix_calls_outcome'), table_name='calls')
    op.drop_index(op.f('ix_calls_escalation_reason'), table_name='calls')
    op.drop_table('calls')
    op.drop_table('agents')
