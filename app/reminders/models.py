from datetime import datetime

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    text,
)
from sqlmodel import Field

from app.core.tenancy import OwnerScopedChild
from app.core.types import UTCDateTime

_OPEN = "done_at IS NULL"


class Reminder(OwnerScopedChild, table=True):
    """A planned touch with one contact ("call Ada after her launch"), due at a moment and
    open until done. Deleted with its contact (erasure, or the owner's deletion)."""

    __tablename__ = "reminder"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "id"),
        ForeignKeyConstraint(
            ["owner_id", "contact_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        # The agenda reads an owner's open reminders due by a day, soonest first; done ones,
        # which pile up, stay out of the index.
        Index(
            "ix_reminder_owner_id_due_at_open",
            "owner_id",
            "due_at",
            "id",
            sqlite_where=text(_OPEN),
            postgresql_where=text(_OPEN),
        ),
        Index("ix_reminder_owner_id_contact_id", "owner_id", "contact_id"),
    )

    id: str = Field(sa_column=Column(String(40), nullable=False))
    contact_id: str = Field(sa_column=Column(String(40), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
