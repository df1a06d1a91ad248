"""ledger and owner settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:49:29.625757
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('owner_settings',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('reciprocity_ratio', sa.Integer(), nullable=False),
    sa.Column('consent_ttl_days', sa.Integer(), nullable=False),
    sa.Column('decline_cooldown_days', sa.Integer(), nullable=False),
    sa.Column('max_pending_consents_per_target', sa.Integer(), nullable=False),
    sa.Column('follow_up_after_days', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_owner_settings_owner_id_owner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', name=op.f('pk_owner_settings'))
    )
    op.create_table('ledger_entry',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('contact_id', sa.String(length=40), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('reverses_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("direction IN ('gave', 'received')", name=op.f('ck_ledger_entry_direction')),
    sa.CheckConstraint('weight BETWEEN -5 AND 5 AND weight <> 0', name=op.f('ck_ledger_entry_weight_range')),
    sa.ForeignKeyConstraint(['owner_id', 'contact_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_ledger_entry_owner_id_contact_id_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'id', name=op.f('pk_ledger_entry')),
    sa.UniqueConstraint('owner_id', 'reverses_id', name=op.f('uq_ledger_entry_owner_id_reverses_id'))
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entry_owner_id_contact_id_occurred_at', ['owner_id', 'contact_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_ledger_entry_owner_id_occurred_at', ['owner_id', 'occurred_at', 'id'], unique=False)

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ledger_deposits', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ledger_withdrawals', sa.Integer(), server_default='0', nullable=False))

    # Owners created before this revision get the default rules, as new owners do.
    op.execute(
        "INSERT INTO owner_settings (owner_id, reciprocity_ratio, consent_ttl_days, "
        "decline_cooldown_days, max_pending_consents_per_target, follow_up_after_days, "
        "version, updated_at) "
        "SELECT id, 7, 14, 90, 3, 14, 1, CURRENT_TIMESTAMP FROM owner"
    )



def downgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('ledger_withdrawals')
        batch_op.drop_column('ledger_deposits')

    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entry_owner_id_occurred_at')
        batch_op.drop_index('ix_ledger_entry_owner_id_contact_id_occurred_at')

    op.drop_table('ledger_entry')
    op.drop_table('owner_settings')
