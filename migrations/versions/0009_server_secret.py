"""server_secret: the signing secret every replica shares

Cursors and consent-form tokens are signed with it (app/core/signing.py). Kept in the
database so that every process that shares the database shares the secret, across
restarts, with nothing to configure; made here, at migration time, so that a service
never starts without one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:20:00
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        'server_secret',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_server_secret')),
    )
    op.bulk_insert(
        table,
        [{'name': 'signing', 'value': secrets.token_urlsafe(48), 'created_at': datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_table('server_secret')
