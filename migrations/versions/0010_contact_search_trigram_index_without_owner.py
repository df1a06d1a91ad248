"""contact search: trigram index without owner_id, finer statistics (PostgreSQL only)

0006 indexed (owner_id, search_text gin_trgm_ops). A GIN index keeps one posting list per
key, and the owner_id key of a large owner lists every one of its contacts: a search read
that whole list to intersect it with the trigrams', 17-19 ms for one email among the large
owner's 100,000 contacts. Indexed on search_text alone, the same search reads the trigrams'
lists and filters the few matches by owner: 4.5 ms. Each search is planned for its own text
(app/core/reads.py, `plan_for_values`), so a common text in a large network still takes the
owner's primary key order instead (docs/decisions/2026-12-07-search-prepared-per-run.md).

That choice rests on PostgreSQL's estimate of how many contacts contain the text, which it
reads from a sample of search_text. With the default sample (statistics target 100) a family
name held by 2 % of a network was estimated at 12 rows and searched through the trigram
index, 8.6 ms, instead of the primary key, 3.1 ms; with 300 the estimates are right for
every name and email of the benchmark's network, at 0.3 ms of planning.

The index keeps a pending list of at most 256 kB (gin_pending_list_limit; PostgreSQL's default
is 4 MB). Logging an interaction moves a contact's indexed `updated_at` and `due_at`, so
PostgreSQL writes a new row version and a new entry in every index, this one included; a GIN
index gathers such entries in a pending list that every search reads whole. After 15,000
interactions the list held 475 pages; with 256 kB it never holds more than about 30, merged
into the index in small batches.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "ix_contact_owner_id_search_text_trgm"
NEW = "ix_contact_search_text_trgm"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE INDEX IF NOT EXISTS {NEW} ON contact USING gin (search_text gin_trgm_ops)")
    op.execute(f"DROP INDEX IF EXISTS {OLD}")
    op.execute("ALTER TABLE contact ALTER COLUMN search_text SET STATISTICS 300")
    op.execute(f"ALTER INDEX {NEW} SET (gin_pending_list_limit = 256)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE contact ALTER COLUMN search_text SET STATISTICS -1")
    op.execute(
        f"CREATE INDEX IF NOT EXISTS {OLD} ON contact "
        "USING gin (owner_id, search_text gin_trgm_ops)"
    )
    op.execute(f"DROP INDEX IF EXISTS {NEW}")
