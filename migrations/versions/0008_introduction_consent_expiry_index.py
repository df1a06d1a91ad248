"""introduction: pending consent requests indexed by expiry

Every read of an owner's introductions first expires their overdue consent requests
(`expire_due`): `state = 'awaiting_consent' AND consent_expires_at < now()`. Without an
index on the expiry that was a scan of every introduction: 5.6 ms of PostgreSQL per
request for 20,000 of them (bench/README.md). Not a partial index: the state arrives as a
parameter, and a generic plan cannot prove a partial index's condition from one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = 'ix_introduction_owner_id_state_consent_expires_at'


def upgrade() -> None:
    op.create_index(
        INDEX, 'introduction', ['owner_id', 'state', 'consent_expires_at'], unique=False
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name='introduction')
