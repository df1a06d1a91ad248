from datetime import datetime

from sqlalchemy import (
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

KINDS = ("colleague", "friend", "family", "worked_with", "recommended", "introduced", "other")


class Relationship(OwnerScopedChild, table=True):
    """Two of the owner's contacts know each other. Undirected: the pair is stored once, in
    order (`contact_a_id < contact_b_id`), and read in both directions by the two indexes
    below, each covering (the other end, strength) so a warm path's hop is an index-only
    read. Deleted with either contact (erasure, or the owner's deletion)."""

    __tablename__ = "relationship"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "id"),
        ForeignKeyConstraint(
            ["owner_id", "contact_a_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["owner_id", "contact_b_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        # The same pair and kind twice is a 409; the database settles a race.
        UniqueConstraint("owner_id", "contact_a_id", "contact_b_id", "kind"),
        Index(
            "ix_relationship_owner_id_contact_a_id",
            "owner_id",
            "contact_a_id",
            "contact_b_id",
            "strength",
        ),
        Index(
            "ix_relationship_owner_id_contact_b_id",
            "owner_id",
            "contact_b_id",
            "contact_a_id",
            "strength",
        ),
    )

    id: str = Field(sa_column=Column(String(40), nullable=False))
    contact_a_id: str = Field(sa_column=Column(String(40), nullable=False))
    contact_b_id: str = Field(sa_column=Column(String(40), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    strength: int = Field(sa_column=Column(Integer, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
