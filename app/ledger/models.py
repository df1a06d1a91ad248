from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field

from app.core.tenancy import OwnerScopedChild
from app.core.types import UTCDateTime


class LedgerEntry(OwnerScopedChild, table=True):
    """Append-only: rows are inserted, never updated or deleted, but by erasure
    (app/erasure.py), which deletes the erased person's entries and blanks the notes of
    entries that introductions with them credited to someone else."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "id"),
        ForeignKeyConstraint(
            ["owner_id", "contact_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        # An entry is reversed at most once; the database settles a race between two tries.
        UniqueConstraint("owner_id", "reverses_id"),
        # A reversal carries the negated weight of what it cancels.
        CheckConstraint("weight BETWEEN -5 AND 5 AND weight <> 0", name="weight_range"),
        CheckConstraint("direction IN ('gave', 'received')", name="direction"),
        Index(
            "ix_ledger_entry_owner_id_contact_id_occurred_at",
            "owner_id",
            "contact_id",
            "occurred_at",
            "id",
        ),
        Index("ix_ledger_entry_owner_id_occurred_at", "owner_id", "occurred_at", "id"),
    )

    id: str = Field(sa_column=Column(String(40), nullable=False))
    contact_id: str = Field(sa_column=Column(String(40), nullable=False))
    direction: str = Field(sa_column=Column(String(8), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    weight: int = Field(sa_column=Column(Integer, nullable=False))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
    reverses_id: str | None = Field(default=None, sa_column=Column(String(40)))
    # Set on the deposits that making an introduction (or its valued outcome) writes.
    introduction_id: str | None = Field(default=None, sa_column=Column(String(40)))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
