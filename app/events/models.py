"""The event table: every change to an owner's data, written in the transaction that made it.

It is the one outbox that the change feed and webhook delivery read.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime


class Event(SQLModel, table=True):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_owner_id_seq", "owner_id", "seq"),
        Index("ix_event_owner_id_contact_id", "owner_id", "contact_id"),
    )

    # Commit-ordered feeds page by this; SQLite only autoincrements INTEGER PRIMARY KEY.
    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    owner_id: str = Field(
        sa_column=Column(String(40), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False)
    )
    type: str = Field(sa_column=Column(String(64), nullable=False))
    resource: str = Field(sa_column=Column(String(32), nullable=False))
    resource_id: str = Field(sa_column=Column(String(40), nullable=False))
    # The contact whose personal data the payload holds, so erasure can scrub it.
    contact_id: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
