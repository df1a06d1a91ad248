"""The outbox: every change to an owner's data is an event, written in the transaction that
made it, and read by the change feed and webhook delivery (app/events/).

A write records its events with `record_event`; they wait in the session and the unit of
work writes them with `flush`, in one INSERT, just before it commits
(app/core/unit_of_work.py). A transaction that rolls back `discard`s them.

Events are numbered by `event.seq`, and pollers of the feed and the webhook fan-out both read
an owner's events by `seq > cursor`. That only works if an owner's events become visible in
`seq` order: a row with a higher `seq` must never commit before one with a lower `seq`, or a
reader could move its cursor past a row that commits later and never see it.

On PostgreSQL the database sees to it, with a trigger made by migration 0007
(`event_seq_at_commit`): an event's final `seq` is drawn inside the COMMIT of its
transaction, by a deferred constraint trigger that first takes the owner's feed lock
(`pg_advisory_xact_lock`), held until the transaction is committed and visible. Deferred, it
runs after every statement of the transaction, so it waits on nothing another transaction
holds: taking the lock last, after the row locks every write takes earlier (a ledger entry
locks its contact, an introduction locks itself, ...), keeps it free of deadlocks; and
holding it only for the COMMIT itself keeps one owner's writes from queueing behind each
other (docs/decisions/2026-12-01-number-events-at-commit.md). `flush` sorts a transaction's
events by owner, so a transaction that writes for several owners (a periodic sweep) takes
their locks in the same order as any other. SQLite has one writer at a time, so commit order
is insert order there.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, bindparam, func, insert
from sqlalchemy.orm import Session
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.tenancy import OwnerScoped
from app.core.types import UTCDateTime, new_id, utcnow


class Event(OwnerScoped, table=True):
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
    type: str = Field(sa_column=Column(String(64), nullable=False))
    resource: str = Field(sa_column=Column(String(32), nullable=False))
    resource_id: str = Field(sa_column=Column(String(40), nullable=False))
    # The contact whose personal data the payload holds, so erasure can scrub it.
    contact_id: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


EVENTS = Event.__table__  # type: ignore[attr-defined]
EVENT_COLUMNS = [column.key for column in EVENTS.columns if column.key != "seq"]
_PENDING = "goodwill_pending_events"
# Where the owner's change feed stands: their greatest `seq`, 0 before their first event (as
# a scalar subquery of the statement that needs it, on the owner_id/seq index). Events become
# visible in `seq` order and every write records one, so while it stays the same the owner's
# data does too: answers kept per worker are checked against it (app/network/kept.py, the
# search's remembered tokens in app/contacts/listing.py).
FEED_POSITION = func.coalesce(
    select(func.max(col(Event.seq)))
    .where(Event.owner_id == bindparam("owner_id"))
    .scalar_subquery(),
    0,
)

Payload = dict[str, Any]


def event_row(
    *,
    owner_id: str,
    type: str,
    resource: str,
    resource_id: str,
    data: BaseModel | Payload,
    contact_id: str | None = None,
) -> Payload:
    """The row of `event` an event is, without its `seq` (drawn at the INSERT, and on
    PostgreSQL drawn again at COMMIT). A plain row: events are never changed once written,
    and an entity per event cost more than the INSERT
    (docs/decisions/2026-11-22-write-once-rows-as-plain-inserts.md)."""
    return {
        "id": new_id("ev"),
        "owner_id": owner_id,
        "type": type,
        "resource": resource,
        "resource_id": resource_id,
        "contact_id": contact_id,
        "occurred_at": utcnow(),
        "data": data.model_dump(mode="json") if isinstance(data, BaseModel) else data,
    }


def record_event(
    session: AsyncSession,
    *,
    owner_id: str,
    type: str,
    resource: str,
    resource_id: str,
    data: BaseModel | Payload,
    contact_id: str | None = None,
) -> None:
    """Note an event, to be written with the transaction's commit."""
    row = event_row(
        owner_id=owner_id,
        type=type,
        resource=resource,
        resource_id=resource_id,
        data=data,
        contact_id=contact_id,
    )
    session.info.setdefault(_PENDING, []).append(row)


def scrub_pending(
    session: AsyncSession,
    matches: Callable[[Payload], bool],
    scrub: Callable[[Payload], Payload],
) -> None:
    """Events of this transaction not written yet, changed by `scrub` where they `match`."""
    for event in session.info.get(_PENDING, []):
        if matches(event):
            event["data"] = scrub(event["data"])


async def flush(session: AsyncSession) -> None:
    """Write the transaction's events: one Core INSERT, not the unit of work, since events
    are never changed afterwards. Sorted by owner (stable, so each owner's keep their order)
    for the commit trigger's locks (see the module's docstring)."""
    pending: list[Payload] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    pending.sort(key=lambda e: e["owner_id"])
    await session.exec(insert(EVENTS), params=pending)  # type: ignore[call-overload]


def has_pending(session: AsyncSession | Session) -> bool:
    return bool(session.info.get(_PENDING))


def discard(session: AsyncSession) -> None:
    """Forget the events of a transaction that is rolled back."""
    session.info.pop(_PENDING, None)
