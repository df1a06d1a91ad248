from datetime import datetime

from sqlalchemy import Column, PrimaryKeyConstraint, String
from sqlmodel import Field

from app.core.tenancy import OwnerScoped
from app.core.types import UTCDateTime


class CalendarFeed(OwnerScoped, table=True):
    """A secret URL a calendar app subscribes to without an API key. Deleting it revokes the
    URL; it goes with its owner."""

    __tablename__ = "calendar_feed"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "id"),)

    id: str = Field(sa_column=Column(String(40), nullable=False))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    # SHA-256 of the URL's token, as API keys keep theirs: the token is 256 random bits, so a
    # fast hash is enough, and a fetch finds its feed with one lookup by this unique key
    # before the owner is known.
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
