from datetime import datetime

from sqlalchemy import Column, ForeignKeyConstraint, Index, PrimaryKeyConstraint, String, Text
from sqlmodel import Field

from app.core.tenancy import OwnerScopedChild
from app.core.types import UTCDateTime


class Interaction(OwnerScopedChild, table=True):
    __tablename__ = "interaction"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "id"),
        ForeignKeyConstraint(
            ["owner_id", "contact_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        # A contact's timeline, newest first, is the only way interactions are read.
        Index(
            "ix_interaction_owner_id_contact_id_occurred_at",
            "owner_id",
            "contact_id",
            "occurred_at",
            "id",
        ),
    )

    id: str = Field(sa_column=Column(String(40), nullable=False))
    contact_id: str = Field(sa_column=Column(String(40), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    summary: str | None = Field(default=None, sa_column=Column(Text))
    initiated_by: str = Field(sa_column=Column(String(8), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
