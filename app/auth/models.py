from datetime import datetime

from sqlalchemy import JSON, Column, Index, Integer, String
from sqlmodel import Field, SQLModel

from app.core.tenancy import OwnerScoped
from app.core.types import UTCDateTime, utcnow


class Owner(SQLModel, table=True):
    __tablename__ = "owner"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))
    name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    # One more each time the owner snoozes or dismisses an agenda item: a worker keeps the
    # owner's hidden items while it is unchanged (app/agenda/hidden.py), so that GET
    # /v1/agenda does not look them up on every read.
    agenda_version: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )


class ApiKey(OwnerScoped, table=True):
    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_owner_id_id", "owner_id", "id"),)

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    # SHA-256 of the secret. Keys are 256 random bits, so a fast hash is enough and lets a
    # request be authenticated with one indexed lookup.
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # The first characters of the secret, to tell keys apart in listings.
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
