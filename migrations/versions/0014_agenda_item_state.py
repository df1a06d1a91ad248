"""agenda_item_state, and the indexes the agenda reads

The agenda (`GET /v1/agenda`) is computed from the data; only the items an owner snoozed or
dismissed are remembered, by item id (`until` NULL: dismissed for good).

Two partial indexes keep its kinds to bounded reads on a large network: contacts the owner
received something from (`rebalance`: only they can be overdrawn), and introductions made
with a side's feedback still missing, by `made_at` (`follow_up`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WITHDRAWN = sa.text('ledger_withdrawals > 0 AND archived_at IS NULL AND erased_at IS NULL')
_FEEDBACK_DUE = sa.text(
    "state IN ('made', 'completed') AND (requester_outcome IS NULL OR target_outcome IS NULL)"
)


def upgrade() -> None:
    op.create_table('agenda_item_state',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('item_id', sa.String(length=40), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_agenda_item_state_owner_id_owner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'item_id', name=op.f('pk_agenda_item_state'))
    )
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_owner_id_id_withdrawn', ['owner_id', 'id'], unique=False, sqlite_where=_WITHDRAWN, postgresql_where=_WITHDRAWN)
    with op.batch_alter_table('introduction', schema=None) as batch_op:
        batch_op.create_index('ix_introduction_owner_id_made_at_feedback_due', ['owner_id', 'made_at', 'id'], unique=False, sqlite_where=_FEEDBACK_DUE, postgresql_where=_FEEDBACK_DUE)


def downgrade() -> None:
    with op.batch_alter_table('introduction', schema=None) as batch_op:
        batch_op.drop_index('ix_introduction_owner_id_made_at_feedback_due', sqlite_where=_FEEDBACK_DUE, postgresql_where=_FEEDBACK_DUE)
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_owner_id_id_withdrawn', sqlite_where=_WITHDRAWN, postgresql_where=_WITHDRAWN)
    op.drop_table('agenda_item_state')
