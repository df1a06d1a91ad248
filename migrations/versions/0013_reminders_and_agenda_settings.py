"""reminder, and the agenda's settings: thanks_window_days and timezone

Reminders are planned touches with one contact (`/v1/reminders`), deleted with the contact.
The agenda reads an owner's open reminders due by a day, so they are indexed by due date,
done ones left out of the index (a partial index, on both databases).

The owner's settings gain `thanks_window_days` (7) and `timezone` ('UTC', the owner's
"today" for the agenda); existing rows get the defaults from the server defaults.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text('done_at IS NULL')


def upgrade() -> None:
    with op.batch_alter_table('owner_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thanks_window_days', sa.Integer(), server_default='7', nullable=False))
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False))

    op.create_table('reminder',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('contact_id', sa.String(length=40), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id', 'contact_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_reminder_owner_id_contact_id_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'id', name=op.f('pk_reminder'))
    )
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_owner_id_contact_id', ['owner_id', 'contact_id'], unique=False)
        batch_op.create_index('ix_reminder_owner_id_due_at_open', ['owner_id', 'due_at', 'id'], unique=False, sqlite_where=_OPEN, postgresql_where=_OPEN)


def downgrade() -> None:
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_owner_id_due_at_open', sqlite_where=_OPEN, postgresql_where=_OPEN)
        batch_op.drop_index('ix_reminder_owner_id_contact_id')

    op.drop_table('reminder')

    with op.batch_alter_table('owner_settings', schema=None) as batch_op:
        batch_op.drop_column('timezone')
        batch_op.drop_column('thanks_window_days')
