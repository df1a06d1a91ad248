"""introductions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:05:46.887805
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('introduction',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('requester_id', sa.String(length=40), nullable=False),
    sa.Column('target_id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('benefit_to_target', sa.Text(), nullable=True),
    sa.Column('offer', sa.Text(), nullable=True),
    sa.Column('consent_token_hash', sa.String(length=64), nullable=True),
    sa.Column('consent_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consent_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_via', sa.String(length=8), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('target_message', sa.Text(), nullable=True),
    sa.Column('made_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requester_outcome', sa.String(length=16), nullable=True),
    sa.Column('requester_feedback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('target_outcome', sa.String(length=16), nullable=True),
    sa.Column('target_feedback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id', 'requester_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_introduction_owner_id_requester_id_contact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id', 'target_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_introduction_owner_id_target_id_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'id', name=op.f('pk_introduction')),
    sa.UniqueConstraint('consent_token_hash', name=op.f('uq_introduction_consent_token_hash'))
    )
    with op.batch_alter_table('introduction', schema=None) as batch_op:
        batch_op.create_index('ix_introduction_owner_id_requester_id', ['owner_id', 'requester_id'], unique=False)
        batch_op.create_index('ix_introduction_owner_id_state_id', ['owner_id', 'state', 'id'], unique=False)
        batch_op.create_index('ix_introduction_owner_id_target_id_state', ['owner_id', 'target_id', 'state'], unique=False)
        batch_op.create_index('uq_introduction_open_pair', ['owner_id', 'requester_id', 'target_id'], unique=True, sqlite_where=sa.text("state IN ('requested', 'awaiting_consent', 'consented', 'made')"), postgresql_where=sa.text("state IN ('requested', 'awaiting_consent', 'consented', 'made')"))

    op.create_table('introduction_event',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('introduction_id', sa.String(length=40), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=8), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id', 'introduction_id'], ['introduction.owner_id', 'introduction.id'], name=op.f('fk_introduction_event_owner_id_introduction_id_introduction'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'id', name=op.f('pk_introduction_event'))
    )
    with op.batch_alter_table('introduction_event', schema=None) as batch_op:
        batch_op.create_index('ix_introduction_event_owner_id_introduction_id_occurred_at', ['owner_id', 'introduction_id', 'occurred_at', 'id'], unique=False)

    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('introduction_id', sa.String(length=40), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_column('introduction_id')

    with op.batch_alter_table('introduction_event', schema=None) as batch_op:
        batch_op.drop_index('ix_introduction_event_owner_id_introduction_id_occurred_at')

    op.drop_table('introduction_event')
    with op.batch_alter_table('introduction', schema=None) as batch_op:
        batch_op.drop_index('uq_introduction_open_pair', sqlite_where=sa.text("state IN ('requested', 'awaiting_consent', 'consented', 'made')"), postgresql_where=sa.text("state IN ('requested', 'awaiting_consent', 'consented', 'made')"))
        batch_op.drop_index('ix_introduction_owner_id_target_id_state')
        batch_op.drop_index('ix_introduction_owner_id_state_id')
        batch_op.drop_index('ix_introduction_owner_id_requester_id')

    op.drop_table('introduction')
