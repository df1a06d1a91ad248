"""contact search trigram index (PostgreSQL only)

`GET /v1/contacts?q=` is `search_text LIKE '%q%'` within one owner. A B-tree cannot serve a
leading wildcard, so without this index PostgreSQL reads every contact of every owner. A GIN
index over (owner_id, search_text gin_trgm_ops) (btree_gin for the owner_id part) narrows it
to the owner and the trigrams of q: 68.7 ms -> 2.6 ms for an email among 120,000 contacts
(bench/README.md). Both extensions are trusted since PostgreSQL 13, so a database owner can
create them. SQLite keeps its scan: the embedded default holds one person's network.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_contact_owner_id_search_text_trgm"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON contact "
        "USING gin (owner_id, search_text gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The extensions stay: other objects may use them, and they cost nothing unused.
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
