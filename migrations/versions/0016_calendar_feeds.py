"""calendar_feed: the secret URLs calendar apps subscribe to (issue 16)

`GET /calendar/{token}.ics` answers without an API key, so the token in the URL is the
credential: only its SHA-256 is kept, as API keys keep theirs, under a unique key that a
fetch looks its feed up by before the owner is known. A feed goes with its owner (the
cascade); deleting it revokes the URL.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 07:35:15.927748
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_feed',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_calendar_feed_owner_id_owner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'id', name=op.f('pk_calendar_feed')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feed_token_hash'))
    )


def downgrade() -> None:
    op.drop_table('calendar_feed')
