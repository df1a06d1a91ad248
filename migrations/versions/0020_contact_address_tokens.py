"""contact_token and owner_token: the words of search_text that hold an `@`, for q=<email>

A contact's tokens were the runs of letters and digits of its folded search_text; they are now
also its words (between whitespace) holding an `@`, each whole (a word longer than 100
characters as the empty token): a query with an `@` and no whitespace (an email, whole or in
part) lies inside one, so `GET /v1/contacts?q=<an email>` reads that word's contacts as a
family name reads its token's (app/contacts/search.py `tokens`, `token_search`;
docs/decisions/2026-12-07-emails-and-phones-by-tokens.md).

Existing contacts whose text holds an `@` get those tokens here, a page at a time; the rule is
copied, not imported from app code that may change later. On PostgreSQL the vocabulary's
trigram index (0017) is split in two partial ones, the runs' and the words', so that a name's
lookup ('%smith%') is not handed every address holding the name. Downgrade removes the words
(and the empty token where only a word gave it) and puts the one index back.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
_MAX_TOKEN = 100
RUNS = "ix_owner_token_owner_id_token_trgm"
ADDRESSES = "ix_owner_token_owner_id_address_trgm"

_CONTACT = sa.table(
    "contact",
    sa.column("owner_id", sa.String),
    sa.column("id", sa.String),
    sa.column("search_text", sa.Text),
)
_CONTACT_TOKEN = sa.table(
    "contact_token",
    sa.column("owner_id", sa.String),
    sa.column("token", sa.String),
    sa.column("contact_id", sa.String),
)
_OWNER_TOKEN = sa.table("owner_token", sa.column("owner_id", sa.String), sa.column("token"))


def _runs(text: str) -> set[str]:
    """app.contacts.search.tokens as of 0017: the runs of letters and digits."""
    tokens, start = set(), None
    for i, c in enumerate(text + " "):
        if c.isalnum():
            if start is None:
                start = i
        elif start is not None:
            tokens.add(text[start:i] if i - start <= _MAX_TOKEN else "")
            start = None
    return tokens


def _words(text: str) -> set[str]:
    """What app.contacts.search.tokens adds as of this migration: the words holding an `@`
    (`str.split` splits on what `str.isspace` calls whitespace, as the app does)."""
    return {word if len(word) <= _MAX_TOKEN else "" for word in text.split() if "@" in word}


def _with_addresses() -> Iterator[list[sa.Row]]:
    """The contacts whose text holds an `@`, a page at a time, by primary key."""
    connection = op.get_bind()
    after = ("", "")
    while True:
        rows = connection.execute(
            sa.select(_CONTACT.c.owner_id, _CONTACT.c.id, _CONTACT.c.search_text)
            .where(
                sa.tuple_(_CONTACT.c.owner_id, _CONTACT.c.id) > sa.tuple_(*after),
                _CONTACT.c.search_text.contains("@"),
            )
            .order_by(_CONTACT.c.owner_id, _CONTACT.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        yield list(rows)
        after = (rows[-1].owner_id, rows[-1].id)


def _insert_new(table: sa.TableClause) -> sa.Insert:
    """INSERT that skips rows already there (the empty token a contact or owner had)."""
    if op.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def _trigrams(name: str, where: str | None) -> None:
    # As 0017's: with owner_id (btree_gin), no pending list.
    op.execute(
        f"CREATE INDEX {name} ON owner_token USING gin (owner_id, token gin_trgm_ops) "
        "WITH (fastupdate = off)" + (f" WHERE {where}" if where else "")
    )


def upgrade() -> None:
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        op.execute(f"DROP INDEX {RUNS}")
    for rows in _with_addresses():
        tokens = [
            {"owner_id": row.owner_id, "token": token, "contact_id": row.id}
            for row in rows
            for token in sorted(_words(row.search_text))
        ]
        if tokens:
            connection.execute(_insert_new(_CONTACT_TOKEN), tokens)
            vocabulary = sorted({(t["owner_id"], t["token"]) for t in tokens})
            connection.execute(
                _insert_new(_OWNER_TOKEN), [{"owner_id": o, "token": t} for o, t in vocabulary]
            )
    if postgres:
        # The same expressions as app/contacts/vocabulary.py's lookups, which name them so
        # that the planner can prove which index holds the tokens asked for.
        _trigrams(RUNS, "strpos(token, '@') = 0")
        _trigrams(ADDRESSES, "strpos(token, '@') > 0")
        op.execute("ANALYZE contact_token")
        op.execute("ANALYZE owner_token")


def downgrade() -> None:
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        op.execute(f"DROP INDEX {ADDRESSES}")
        op.execute(f"DROP INDEX {RUNS}")
    for table in (_CONTACT_TOKEN, _OWNER_TOKEN):
        connection.execute(sa.delete(table).where(table.c.token.contains("@")))
    # The empty token, where only a word too long to keep gave it.
    for rows in _with_addresses():
        given: dict[str, list[str]] = {}
        for row in rows:
            if "" in _words(row.search_text) and "" not in _runs(row.search_text):
                given.setdefault(row.owner_id, []).append(row.id)
        for owner_id, ids in given.items():
            connection.execute(
                sa.delete(_CONTACT_TOKEN).where(
                    _CONTACT_TOKEN.c.owner_id == owner_id,
                    _CONTACT_TOKEN.c.token == "",
                    _CONTACT_TOKEN.c.contact_id.in_(ids),
                )
            )
    # ... and from the vocabulary of owners none of whose contacts has it any more.
    connection.execute(
        sa.delete(_OWNER_TOKEN).where(
            _OWNER_TOKEN.c.token == "",
            ~sa.exists().where(
                _CONTACT_TOKEN.c.owner_id == _OWNER_TOKEN.c.owner_id,
                _CONTACT_TOKEN.c.token == "",
            ),
        )
    )
    if postgres:
        _trigrams(RUNS, None)
        op.execute("ANALYZE contact_token")
        op.execute("ANALYZE owner_token")
