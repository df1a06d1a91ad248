"""Webhook subscriptions, their deliveries (one per event of app/core/outbox.py and
subscription) and every attempt at one."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    text,
)
from sqlmodel import Field

from app.core.tenancy import OwnerScoped, OwnerScopedChild
from app.core.types import UTCDateTime

# A delivery waiting for its next attempt; the worker's claim scans only these rows.
_PENDING = "status = 'pending'"


class WebhookSubscription(OwnerScoped, table=True):
    __tablename__ = "webhook_subscription"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "id"),)

    id: str = Field(sa_column=Column(String(40), nullable=False))
    url: str = Field(sa_column=Column(String(2048), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(200)))
    # Exact types (`contact.created`), a resource's types (`introduction.*`) or `*`.
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # The signing secret (`whsec_...`). Kept as it is, not hashed: signing needs it.
    secret: str = Field(sa_column=Column(String(100), nullable=False))
    # After a rotation the previous secret also signs until it expires, so a receiver can
    # switch over without rejecting a delivery.
    previous_secret: str | None = Field(default=None, sa_column=Column(String(100)))
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime())
    )
    status: str = Field(sa_column=Column(String(16), nullable=False))
    disabled_reason: str | None = Field(default=None, sa_column=Column(String(500)))
    disabled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The fan-out cursor: every event of the owner up to this seq has its delivery rows.
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_success_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WebhookDelivery(OwnerScopedChild, table=True):
    """One event for one subscription, until it is delivered or given up on."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "id"),
        ForeignKeyConstraint(
            ["owner_id", "subscription_id"],
            ["webhook_subscription.owner_id", "webhook_subscription.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_webhook_delivery_owner_id_subscription_id_id", "owner_id", "subscription_id", "id"
        ),
        Index(
            "ix_webhook_delivery_owner_id_next_attempt_at",
            "owner_id",
            "next_attempt_at",
            sqlite_where=text(_PENDING),
            postgresql_where=text(_PENDING),
        ),
    )

    id: str = Field(sa_column=Column(String(40), nullable=False))
    subscription_id: str = Field(sa_column=Column(String(40), nullable=False))
    event_id: str = Field(sa_column=Column(String(40), nullable=False))
    event_type: str = Field(sa_column=Column(String(64), nullable=False))
    # pending | delivered | failed
    status: str = Field(sa_column=Column(String(16), nullable=False))
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    # While pending: when the next attempt is due (pushed ahead while one is in flight).
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class WebhookAttempt(OwnerScopedChild, table=True):
    """One HTTP request of a delivery, as it went."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (
        PrimaryKeyConstraint("owner_id", "id"),
        ForeignKeyConstraint(
            ["owner_id", "delivery_id"],
            ["webhook_delivery.owner_id", "webhook_delivery.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_webhook_attempt_owner_id_delivery_id_attempt", "owner_id", "delivery_id", "attempt"
        ),
    )

    id: str = Field(sa_column=Column(String(40), nullable=False))
    delivery_id: str = Field(sa_column=Column(String(40), nullable=False))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    attempted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    duration_ms: int = Field(sa_column=Column(Integer, nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer))
    error: str | None = Field(default=None, sa_column=Column(String(500)))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
