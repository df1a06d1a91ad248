from datetime import datetime

from sqlalchemy import Column, Integer, PrimaryKeyConstraint, String
from sqlmodel import Field

from app.core.tenancy import OwnerScoped
from app.core.types import UTCDateTime


class OwnerSettings(OwnerScoped, table=True):
    """The owner's rules. A missing row means every rule is at its default."""

    __tablename__ = "owner_settings"
    # One row per owner.
    __table_args__ = (PrimaryKeyConstraint("owner_id"),)

    reciprocity_ratio: int = Field(sa_column=Column(Integer, nullable=False))
    consent_ttl_days: int = Field(sa_column=Column(Integer, nullable=False))
    decline_cooldown_days: int = Field(sa_column=Column(Integer, nullable=False))
    max_pending_consents_per_target: int = Field(sa_column=Column(Integer, nullable=False))
    follow_up_after_days: int = Field(sa_column=Column(Integer, nullable=False))
    thanks_window_days: int = Field(
        default=7, sa_column=Column(Integer, nullable=False, server_default="7")
    )
    # An IANA name (zoneinfo): the owner's "today" for the agenda.
    timezone: str = Field(
        default="UTC", sa_column=Column(String(64), nullable=False, server_default="UTC")
    )
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
