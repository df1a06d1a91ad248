"""contact_token and owner_token: `q` for a common name reads one token's contacts in id order

`GET /v1/contacts?q=<family name>` filtered the ~3,000 texts of a network that hold a common
name along an index in id order to fill a page. A contact's tokens (the runs of letters and
digits of its folded search_text) are now kept beside it, keyed (owner_id, token,
contact_id), so a page of one token is the first entries of one key range, in id order; the
owner's vocabulary (owner_token) says which tokens a query piece is part of, through a
trigram index of (owner_id, token) on PostgreSQL (app/contacts/search.py `token_search`,
app/contacts/listing.py; docs/decisions/2026-12-07-search-by-tokens.md).

Existing contacts' tokens are computed here from their search_text, a page at a time; the
rule is copied, not imported from app code that may change later. Erased contacts have an
empty text, so no tokens. Downgrade drops both tables.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 07:38:48
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
_MAX_TOKEN = 100
TRIGRAMS = "ix_owner_token_owner_id_token_trgm"


def _tokens(text: str) -> set[str]:
    """app.contacts.search.tokens as of this migration."""
    tokens, start = set(), None
    for i, c in enumerate(text + " "):
        if c.isalnum():
            if start is None:
                start = i
        elif start is not None:
            tokens.add(text[start:i] if i - start <= _MAX_TOKEN else "")
            start = None
    return tokens


def _backfill() -> None:
    contact = sa.table(
        "contact",
        sa.column("owner_id", sa.String),
        sa.column("id", sa.String),
        sa.column("search_text", sa.Text),
    )
    contact_token = sa.table(
        "contact_token",
        sa.column("owner_id", sa.String),
        sa.column("token", sa.String),
        sa.column("contact_id", sa.String),
    )
    owner_token = sa.table("owner_token", sa.column("owner_id", sa.String), sa.column("token"))
    connection = op.get_bind()
    vocabulary: set[tuple[str, str]] = set()
    after = ("", "")
    while True:  # a page of contacts at a time, by primary key
        rows = connection.execute(
            sa.select(contact.c.owner_id, contact.c.id, contact.c.search_text)
            .where(sa.tuple_(contact.c.owner_id, contact.c.id) > sa.tuple_(*after))
            .order_by(contact.c.owner_id, contact.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        tokens = [
            {"owner_id": row.owner_id, "token": token, "contact_id": row.id}
            for row in rows
            for token in sorted(_tokens(row.search_text))
        ]
        if tokens:
            connection.execute(contact_token.insert(), tokens)
        new = {(t["owner_id"], t["token"]) for t in tokens} - vocabulary
        if new:
            connection.execute(
                owner_token.insert(), [{"owner_id": o, "token": t} for o, t in sorted(new)]
            )
            vocabulary |= new
        after = (rows[-1].owner_id, rows[-1].id)


def upgrade() -> None:
    op.create_table(
        "owner_token",
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["owner.id"],
            name=op.f("fk_owner_token_owner_id_owner"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "token", name=op.f("pk_owner_token")),
    )
    op.create_table(
        "contact_token",
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=100), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id", "contact_id"],
            ["contact.owner_id", "contact.id"],
            name=op.f("fk_contact_token_owner_id_contact_id_contact"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "token", "contact_id", name=op.f("pk_contact_token")),
    )
    op.create_index(
        "ix_contact_token_owner_id_contact_id", "contact_token", ["owner_id", "contact_id"]
    )
    _backfill()
    if op.get_bind().dialect.name == "postgresql":
        # Which of the owner's tokens a piece is part of ('%muller%'). With owner_id
        # (btree_gin, from 0006): a common name is in most owners' vocabularies, and
        # without it each search visited every owner's row of it (286 in the benchmark,
        # 0.3 ms; 0.08 ms with). New tokens are rare once a network exists, so no pending
        # list for every search to read.
        op.execute(
            f"CREATE INDEX {TRIGRAMS} ON owner_token USING gin (owner_id, token gin_trgm_ops) "
            "WITH (fastupdate = off)"
        )
        # The key filled in contact order, not token order, is half-empty pages (174 MB for
        # the benchmark's 1.1 million tokens); rebuilt, 103 MB. Nothing reads the new table yet.
        op.execute("REINDEX TABLE contact_token")
        op.execute("ANALYZE contact_token")
        op.execute("ANALYZE owner_token")


def downgrade() -> None:
    op.drop_index("ix_contact_token_owner_id_contact_id", table_name="contact_token")
    op.drop_table("contact_token")
    op.drop_table("owner_token")
