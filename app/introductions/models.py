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
    text,
)
from sqlmodel import Field

from app.core.tenancy import OwnerScopedChild
from app.core.types import UTCDateTime

_OPEN = "state IN ('requested', 'awaiting_consent', 'consented', 'made')"
# Made (or completed by one side) and a side still silent: the agenda's follow-ups, by
# `made_at` (app/agenda/kinds.py spells the same condition to use the partial index).
FEEDBACK_DUE = (
    "state IN ('made', 'completed') AND (requester_outcome IS NULL OR target_outcome IS NULL)"
)


class Introduction(OwnerScopedChild, table=True):
    __tablename__ = "introduction"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "id"),
        ForeignKeyConstraint(
            ["owner_id", "requester_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["owner_id", "target_id"], ["contact.owner_id", "contact.id"], ondelete="CASCADE"
        ),
        # One open introduction per requester and target: the database settles two
        # requests racing to create one.
        Index(
            "uq_introduction_open_pair",
            "owner_id",
            "requester_id",
            "target_id",
            unique=True,
            sqlite_where=text(_OPEN),
            postgresql_where=text(_OPEN),
        ),
        Index("ix_introduction_owner_id_state_id", "owner_id", "state", "id"),
        # Pending consent requests by expiry: every read of introductions first expires the
        # owner's overdue ones, which without this was a scan of all of them
        # (docs/decisions/2026-12-01-index-pending-consents-by-expiry.md). Not a partial
        # index: the state arrives as a parameter, and a generic plan cannot prove a partial
        # index's condition from one.
        Index(
            "ix_introduction_owner_id_state_consent_expires_at",
            "owner_id",
            "state",
            "consent_expires_at",
        ),
        # The agenda's `ready_to_make`: an owner's consented introductions by when the
        # target said yes (not partial, for the same reason as the index above).
        Index(
            "ix_introduction_owner_id_state_decided_at",
            "owner_id",
            "state",
            "decided_at",
            "id",
        ),
        Index("ix_introduction_owner_id_target_id_state", "owner_id", "target_id", "state"),
        Index("ix_introduction_owner_id_requester_id", "owner_id", "requester_id"),
        Index(
            "ix_introduction_owner_id_made_at_feedback_due",
            "owner_id",
            "made_at",
            "id",
            sqlite_where=text(FEEDBACK_DUE),
            postgresql_where=text(FEEDBACK_DUE),
        ),
    )

    id: str = Field(sa_column=Column(String(40), nullable=False))
    requester_id: str = Field(sa_column=Column(String(40), nullable=False))
    target_id: str = Field(sa_column=Column(String(40), nullable=False))
    state: str = Field(sa_column=Column(String(20), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    benefit_to_target: str | None = Field(default=None, sa_column=Column(Text))
    offer: str | None = Field(default=None, sa_column=Column(Text))
    # SHA-256 of the single-use consent token; the token itself is never stored.
    consent_token_hash: str | None = Field(default=None, sa_column=Column(String(64), unique=True))
    consent_requested_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    consent_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # How the target's answer arrived: `link` (the consent page) or `owner` (recorded).
    decided_via: str | None = Field(default=None, sa_column=Column(String(8)))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    evidence: str | None = Field(default=None, sa_column=Column(Text))
    target_message: str | None = Field(default=None, sa_column=Column(Text))
    made_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    requester_outcome: str | None = Field(default=None, sa_column=Column(String(16)))
    requester_feedback_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    target_outcome: str | None = Field(default=None, sa_column=Column(String(16)))
    target_feedback_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class IntroductionEvent(OwnerScopedChild, table=True):
    """The timeline: one immutable row per transition (and per feedback)."""

    __tablename__ = "introduction_event"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "id"),
        ForeignKeyConstraint(
            ["owner_id", "introduction_id"],
            ["introduction.owner_id", "introduction.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_introduction_event_owner_id_introduction_id_occurred_at",
            "owner_id",
            "introduction_id",
            "occurred_at",
            "id",
        ),
    )

    id: str = Field(sa_column=Column(String(40), nullable=False))
    introduction_id: str = Field(sa_column=Column(String(40), nullable=False))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # owner (through the API), target (through the consent page) or system (expiry).
    actor: str = Field(sa_column=Column(String(8), nullable=False))
    action: str = Field(sa_column=Column(String(20), nullable=False))
    from_state: str | None = Field(default=None, sa_column=Column(String(20)))
    to_state: str = Field(sa_column=Column(String(20), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
