"""Recording events. Every write calls `record_event` inside its own transaction.

Events are numbered by `event.seq`, and pollers of the feed and the webhook fan-out both read
an owner's events by `seq > cursor`. That only works if an owner's events become visible in
`seq` order: a row with a higher `seq` must never commit before one with a lower `seq`, or a
reader could move its cursor past a row that commits later and never see it.

So events are not inserted when they are recorded. They wait in the session and are
inserted at commit, after the transaction has taken a per-owner transaction-scoped lock
(`pg_advisory_xact_lock` on PostgreSQL; SQLite has one writer at a time anyway). From that
lock to the COMMIT that releases it, the transaction only inserts its own new event rows,
so it waits on nothing that another transaction holds: taking the lock last, rather than at
the first `record_event`, is what keeps it free of deadlocks with the row locks every write
takes earlier (a ledger entry locks its contact, an introduction locks itself, ...).
"""

import hashlib
from typing import Any

from pydantic import BaseModel
from sqlalchemy import BigInteger, bindparam, func, insert, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.types import new_id, utcnow
from app.events.models import Event

_PENDING = "goodwill_pending_events"
_LOCK_NAMESPACE = b"goodwill.event_feed:"


def record_event(
    session: AsyncSession,
    *,
    owner_id: str,
    type: str,
    resource: str,
    resource_id: str,
    data: BaseModel | dict[str, Any],
    contact_id: str | None = None,
) -> None:
    """Note an event for the transaction's commit; the row of `event` it will be, without
    its `seq` (drawn at the INSERT). A plain row: events are never changed once written, and
    an entity per event cost more than the INSERT (bench/README.md)."""
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    row = {
        "id": new_id("ev"),
        "owner_id": owner_id,
        "type": type,
        "resource": resource,
        "resource_id": resource_id,
        "contact_id": contact_id,
        "occurred_at": utcnow(),
        "data": payload,
    }
    session.info.setdefault(_PENDING, []).append(row)


def feed_lock_key(owner_id: str) -> int:
    """The owner's advisory lock: a signed 64-bit hash of the owner id, namespaced so it
    cannot meet another use of advisory locks."""
    digest = hashlib.sha256(_LOCK_NAMESPACE + owner_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@sa_event.listens_for(Session, "before_commit")
def _insert_pending_events(session: Session) -> None:
    # Runs inside the commit, before its final flush, in the greenlet that drives the async
    # session, so it may execute SQL synchronously. SQLAlchemy also calls it when a SAVEPOINT
    # is released; the events wait for the real commit (and the lock is taken only then).
    # Nothing records an event inside a savepoint that may roll back: such an event would
    # still be written.
    if session.in_nested_transaction():
        return
    pending: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        # One Core INSERT, not the unit of work: the events are never changed afterwards.
        # (SQLite runs one writer at a time: commit order is insert order already.)
        connection.execute(insert(_EVENTS), pending)
        return
    # Sorted, so a transaction that writes for several owners (a periodic sweep) takes
    # their locks in the same order as any other.
    for owner_id in sorted({e["owner_id"] for e in pending}):
        first, *rest = [e for e in pending if e["owner_id"] == owner_id]
        connection.execute(_LOCKED_INSERT, {**first, "feed_lock_key": feed_lock_key(owner_id)})
        if rest:
            connection.execute(insert(_EVENTS), rest)


_EVENTS = Event.__table__  # type: ignore[attr-defined]
_EVENT_COLUMNS = [c.key for c in _EVENTS.columns if c.key != "seq"]


def _locked_insert() -> Any:
    """INSERT one event behind its owner's advisory lock, in one statement: no row reaches
    the INSERT (and no `seq` is drawn) before the lock is held. The lock lasts until the
    commit, so the fewer round trips between taking it and committing, the more writes an
    owner can make per second (bench/README.md)."""
    key = bindparam("feed_lock_key", type_=BigInteger())
    lock = select(func.pg_advisory_xact_lock(key).label("held")).cte("feed_lock")
    fields = [bindparam(name, type_=_EVENTS.c[name].type) for name in _EVENT_COLUMNS]
    return insert(_EVENTS).from_select(_EVENT_COLUMNS, select(*fields).select_from(lock))


_LOCKED_INSERT = _locked_insert()


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_pending_events(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction ended: committed or rolled back
        session.info.pop(_PENDING, None)


def _scrub_pending(session: AsyncSession, matches: Any) -> None:
    for event in session.info.get(_PENDING, []):
        if matches(event):
            event["data"] = {"erased": True}


async def scrub_resource_events(
    session: AsyncSession, *, owner_id: str, resource: str, resource_ids: list[str]
) -> None:
    _scrub_pending(
        session,
        lambda e: (
            e["owner_id"] == owner_id
            and e["resource"] == resource
            and e["resource_id"] in resource_ids
        ),
    )
    await session.exec(
        update(Event)
        .where(
            Event.owner_id == owner_id,
            Event.resource == resource,
            col(Event.resource_id).in_(resource_ids),
        )
        .values(data={"erased": True})
    )


async def scrub_contact_events(session: AsyncSession, *, owner_id: str, contact_id: str) -> None:
    """Erasure: events about a contact keep their type and ids, lose every personal field."""
    _scrub_pending(session, lambda e: e["owner_id"] == owner_id and e["contact_id"] == contact_id)
    await session.exec(
        update(Event)
        .where(Event.owner_id == owner_id, Event.contact_id == contact_id)
        .values(data={"erased": True})
    )
