"""An index for the agenda's `ready_to_make`: introductions by state and decided_at

`ready_to_make` lists an owner's consented introductions by when the target said yes
(`decided_at`, then id). Only (owner_id, state, id) was indexed, so PostgreSQL read every
consented introduction of the owner and sorted them before taking a page: 44 ms for the
bench's owner with 2,000 of them (EXPLAIN ANALYZE), growing with the owner. With
(owner_id, state, decided_at, id) the page is read in order and stops at its LIMIT (under a
millisecond). Not a partial index: the state arrives as a parameter, and a generic plan
cannot prove a partial index's condition from one (the reason migration 0008 gave for the
consent expiry index).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 07:40:44
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('introduction', schema=None) as batch_op:
        batch_op.create_index(
            'ix_introduction_owner_id_state_decided_at',
            ['owner_id', 'state', 'decided_at', 'id'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('introduction', schema=None) as batch_op:
        batch_op.drop_index('ix_introduction_owner_id_state_decided_at')
