"""contact.connected_at: when the owner and the contact first connected

LinkedIn's export says when two people connected ("Connected On"); an import keeps it, and a
contact with a cadence and no interaction yet is due a touch one cadence after it. Existing
contacts have none: their due date stays counted from their creation.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('connected_at')
