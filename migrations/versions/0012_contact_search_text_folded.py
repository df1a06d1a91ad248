"""contact.search_text folded: case- and accent-insensitive, with title, tags and phones

`GET /v1/contacts?q=` matched lower-cased names, organisation and emails, so `jurgen` did
not find Jürgen. search_text now holds the folded text (NFKD, combining marks dropped, case
folded, and a few letters NFKD leaves whole spelled out) of the names, organisation, title,
tags and emails, and each phone number's digits (E.164 and national) so that a number
written in any format is found. The query is folded the same way in the app
(app/contacts/search.py); the trigram index of 0010 covers the column as it is.

On PostgreSQL, a B-tree of the listed contacts' (owner_id, id) that carries search_text: a
search in id order (the default) reads the page's ids from it, matching a common name along
the index instead of visiting a contact row for each of the thousands it skips
(app/contacts/listing.py; docs/decisions/2026-12-07-folded-search.md). Only contacts neither
archived nor erased, which are the ones a list shows.

Existing contacts are recomputed here, a page at a time. The rules are copied, not imported
from app code that may change later. On PostgreSQL the rewrite is committed before the
contact indexes are rebuilt (concurrently) and the covering index built, then the table is
vacuumed. Downgrade drops the covering index and restores the old rule (lower-cased
names, organisation and emails).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:00:00
"""

import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
COVERING = "ix_contact_owner_id_id_search_text"
_LETTERS = str.maketrans(
    {
        "\u00f8": "o",  # ø
        "\u0142": "l",  # ł
        "\u0111": "d",  # đ
        "\u0127": "h",  # ħ
        "\u0131": "i",  # dotless i
        "\u00e6": "ae",  # æ
        "\u0153": "oe",  # œ
        "\u00fe": "th",  # þ
        "\u00f0": "d",  # ð
    }
)


def _without_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _fold(text: str) -> str:
    return _without_marks(_without_marks(text).casefold()).translate(_LETTERS)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isdigit())


def _phone_texts(value: str) -> list[str]:
    text = value.strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    number = None
    if text and len(text) <= 64:
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            number = None
    if number is None or not phonenumbers.is_valid_number(number):
        digits = _digits(value)
        return [digits] if digits else []
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return list(dict.fromkeys([e164[1:], _digits(national)]))


def _folded(row: Any) -> str:
    parts = [row.display_name, row.given_name, row.family_name, row.organization, row.title]
    parts += list(row.tags or [])
    for channel in row.channels or []:
        value = channel.get("value") or ""
        if channel.get("type") == "email":
            parts.append(value)
        elif channel.get("type") == "phone":
            parts += _phone_texts(value)
    return " ".join(_fold(p) for p in parts if p)


def _lowered(row: Any) -> str:
    emails = [c.get("value") for c in row.channels or [] if c.get("type") == "email"]
    parts = [row.display_name, row.given_name, row.family_name, row.organization, *emails]
    return " ".join(p.lower() for p in parts if p)


def _recompute(rule: Callable[[Any], str]) -> None:
    contact = sa.table(
        "contact",
        sa.column("owner_id", sa.String),
        sa.column("id", sa.String),
        sa.column("display_name", sa.String),
        sa.column("given_name", sa.String),
        sa.column("family_name", sa.String),
        sa.column("organization", sa.String),
        sa.column("title", sa.String),
        sa.column("tags", sa.JSON),
        sa.column("channels", sa.JSON),
        sa.column("search_text", sa.Text),
        sa.column("erased_at", sa.DateTime(timezone=True)),
    )
    update = (
        contact.update()
        .where(
            contact.c.owner_id == sa.bindparam("o"),
            contact.c.id == sa.bindparam("i"),
            # A contact erased meanwhile keeps its empty text.
            contact.c.erased_at.is_(None),
        )
        .values(search_text=sa.bindparam("s"))
    )
    connection = op.get_bind()
    after = ("", "")
    while True:  # a page of contacts at a time, by primary key; erased ones keep ""
        rows = connection.execute(
            sa.select(contact)
            .where(
                contact.c.erased_at.is_(None),
                sa.tuple_(contact.c.owner_id, contact.c.id) > sa.tuple_(*after),
            )
            .order_by(contact.c.owner_id, contact.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        changed = [
            {"o": row.owner_id, "i": row.id, "s": text}
            for row in rows
            if (text := rule(row)) != row.search_text
        ]
        if changed:
            connection.execute(update, changed)
        after = (rows[-1].owner_id, rows[-1].id)


def _after_rewrite(*statements: str) -> None:
    """Every contact row was rewritten, so each of its indexes holds a second entry per
    contact: the trigram index grew from 16 to 48 MB on the benchmark's 120,000 contacts, a
    phone search through it went from 0.7 to 31-46 ms, an email's from 2 to 9-12 ms. Once
    the rewrite is committed (an index built inside its transaction still has to keep the
    old rows: 29 MB), the indexes are rebuilt without blocking reads or writes, then
    `statements` run, and VACUUM marks the pages all-visible for index-only scans."""
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        op.execute("REINDEX TABLE CONCURRENTLY contact")
        for statement in statements:
            op.execute(statement)
        op.execute("VACUUM (ANALYZE) contact")


def upgrade() -> None:
    _recompute(_folded)
    _after_rewrite(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {COVERING} ON contact (owner_id, id) "
        "INCLUDE (search_text) WHERE archived_at IS NULL AND erased_at IS NULL"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {COVERING}")
    _recompute(_lowered)
    _after_rewrite()
