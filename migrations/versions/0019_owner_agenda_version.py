"""owner.agenda_version: a count of the owner's agenda snoozes and dismissals

GET /v1/agenda looked up, on every read, which of the items at hand the owner had snoozed
or dismissed: a round trip of its own on each read, a tenth of the worker's CPU for the
bench owner's agenda. Each worker now keeps an owner's hidden items (app/agenda/hidden.py)
while this number is unchanged; the agenda's statements read it, and every snooze and
dismissal raises it under the owner's lock.
Existing owners start at 0, which no worker has seen yet.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 10:30:57
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('owner', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('agenda_version', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade() -> None:
    # Not in batch mode: on SQLite that copies the table and drops the old one, and dropping
    # `owner` with foreign keys on deletes every row that references it. SQLite drops a
    # plain column in place (3.35 and later).
    op.drop_column('owner', 'agenda_version')
