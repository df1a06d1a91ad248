from datetime import datetime

from sqlalchemy import Column, PrimaryKeyConstraint, String
from sqlmodel import Field

from app.core.tenancy import OwnerScoped
from app.core.types import UTCDateTime


class AgendaItemState(OwnerScoped, table=True):
    """An agenda item the owner snoozed (until a moment) or dismissed (`until` NULL, for
    good). Items are computed, not stored: this remembers only their ids, which name one
    occurrence of one reason on one subject (app/agenda/service.py), so a later occurrence
    is a new item and shows again."""

    __tablename__ = "agenda_item_state"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "item_id"),)

    item_id: str = Field(sa_column=Column(String(40), nullable=False))
    until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
