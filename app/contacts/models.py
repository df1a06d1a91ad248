from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field

from app.core.tenancy import OwnerScoped, OwnerScopedChild
from app.core.types import UTCDateTime

# Listed contacts with something received: the condition of a partial index, which a query
# must spell the same to use it (app/agenda/kinds.py).
WITHDRAWN = "ledger_withdrawals > 0 AND archived_at IS NULL AND erased_at IS NULL"


class Contact(OwnerScoped, table=True):
    __tablename__ = "contact"
    # The primary key leads with owner_id: every query filters on it, and a table keyed by
    # tenant can be distributed by tenant. Child tables reference (owner_id, id), so the
    # database itself refuses a row that points into another owner's network.
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "id"),
        Index("ix_contact_owner_id_updated_at", "owner_id", "updated_at"),
        Index("ix_contact_owner_id_due_at", "owner_id", "due_at"),
        # The agenda's `rebalance` items: only a contact the owner received from can be
        # overdrawn, and those are few beside a whole network.
        Index(
            "ix_contact_owner_id_id_withdrawn",
            "owner_id",
            "id",
            sqlite_where=text(WITHDRAWN),
            postgresql_where=text(WITHDRAWN),
        ),
    )

    id: str = Field(sa_column=Column(String(40), nullable=False))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    given_name: str | None = Field(default=None, sa_column=Column(String(100)))
    family_name: str | None = Field(default=None, sa_column=Column(String(100)))
    organization: str | None = Field(default=None, sa_column=Column(String(200)))
    title: str | None = Field(default=None, sa_column=Column(String(200)))
    timezone: str | None = Field(default=None, sa_column=Column(String(64)))
    trust_stage: str = Field(sa_column=Column(String(16), nullable=False))
    cadence_days: int | None = Field(default=None, sa_column=Column(Integer))
    notes: str | None = Field(default=None, sa_column=Column(Text))
    # Read whole with the contact (one row per GET); tags and refs are also kept in side
    # tables below, which carry the indexes and the uniqueness rules.
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channels: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    external_refs: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    # Short phrases ("seed funding"), as the client wrote them; matched through
    # ContactPhrase, trimmed and case-folded.
    needs: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    offers: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # Folded names, organisation, title, tags, emails and phone digits, for `q`
    # (app/contacts/search.py).
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    # The permitted uses of any channel, as ",introductions,marketing,", for `channel_use`.
    channel_uses: str = Field(default=",", sa_column=Column(String(64), nullable=False))
    # When the owner and the contact first connected (LinkedIn's "Connected On").
    connected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_interaction_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # When the keep-in-touch cadence runs out: last interaction (or connection, or creation)
    # + cadence. Clients see it as `next_touch_due_at`.
    due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Weighted sums of the contact's ledger entries, moved by the same transaction that
    # writes an entry (an atomic `SET x = x + w`), so a balance is one row read and always
    # equals its entries.
    ledger_deposits: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    ledger_withdrawals: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ContactTag(OwnerScopedChild, table=True):
    __tablename__ = "contact_tag"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "tag", "contact_id"),
        ForeignKeyConstraint(
            ["owner_id", "contact_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        Index("ix_contact_tag_owner_id_contact_id", "owner_id", "contact_id"),
    )

    tag: str = Field(sa_column=Column(String(64), nullable=False))
    contact_id: str = Field(sa_column=Column(String(40), nullable=False))


class ContactExternalRef(OwnerScopedChild, table=True):
    __tablename__ = "contact_external_ref"
    __table_args__ = (
        # One contact per CRM id, and one id per CRM on a contact.
        PrimaryKeyConstraint("owner_id", "system", "external_id"),
        UniqueConstraint("owner_id", "contact_id", "system"),
        ForeignKeyConstraint(
            ["owner_id", "contact_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
    )

    system: str = Field(sa_column=Column(String(64), nullable=False))
    external_id: str = Field(sa_column=Column(String(200), nullable=False))
    contact_id: str = Field(sa_column=Column(String(40), nullable=False))


class ContactIdentifier(OwnerScopedChild, table=True):
    """The contact's email addresses (lower-cased) and phone numbers (E.164), kept with its
    channels, so that an import finds the person behind an address in one indexed lookup."""

    __tablename__ = "contact_identifier"
    __table_args__ = (
        # Not unique: two contacts may share an address (a shared inbox, a switchboard).
        PrimaryKeyConstraint("owner_id", "kind", "value", "contact_id"),
        ForeignKeyConstraint(
            ["owner_id", "contact_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        Index("ix_contact_identifier_owner_id_contact_id", "owner_id", "contact_id"),
    )

    kind: str = Field(sa_column=Column(String(8), nullable=False))
    value: str = Field(sa_column=Column(String(320), nullable=False))
    contact_id: str = Field(sa_column=Column(String(40), nullable=False))


class ContactPhrase(OwnerScopedChild, table=True):
    """A contact's need or offer, trimmed and case-folded (`fold_phrase`), kept with the
    contact's `needs` and `offers`: suggestions join needs to offers on equal phrases, by
    this key, instead of reading every contact's lists."""

    __tablename__ = "contact_phrase"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "kind", "phrase", "contact_id"),
        ForeignKeyConstraint(
            ["owner_id", "contact_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        Index("ix_contact_phrase_owner_id_contact_id", "owner_id", "contact_id"),
    )

    # "need" or "offer".
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    phrase: str = Field(sa_column=Column(String(200), nullable=False))
    contact_id: str = Field(sa_column=Column(String(40), nullable=False))


def fold_phrase(value: str) -> str:
    """A need or offer as matched: trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(value.split()).casefold()


class ContactToken(OwnerScopedChild, table=True):
    """A contact's tokens (`app.contacts.search.tokens`: the runs of letters and digits of
    its `search_text`, and its words holding an `@`), kept with it, for `q`: the key reads a
    token's contacts in id order, so a page of a common name is the first fifty entries of
    one token."""

    __tablename__ = "contact_token"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "token", "contact_id"),
        ForeignKeyConstraint(
            ["owner_id", "contact_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        Index("ix_contact_token_owner_id_contact_id", "owner_id", "contact_id"),
    )

    token: str = Field(sa_column=Column(String(100), nullable=False))
    contact_id: str = Field(sa_column=Column(String(40), nullable=False))


class OwnerToken(OwnerScoped, table=True):
    """Every token some contact of the owner has had: the vocabulary a query piece is looked
    up in (by its trigrams, on PostgreSQL: the runs' and the words holding an `@` in indexes
    of their own, migration 0020) to find the tokens it is part of. It may hold
    tokens no contact has any more (an edit leaves them; a lookup then reads nothing), never
    lacks one a contact has, and erasure removes those no contact has (app/erasure.py)."""

    __tablename__ = "owner_token"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "token"),)

    token: str = Field(sa_column=Column(String(100), nullable=False))
