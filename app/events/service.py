"""Recording events. Every write calls `record_event` inside its own transaction.

Events are numbered by `event.seq`, and pollers of the feed and the webhook fan-out both read
an owner's events by `seq > cursor`. That only works if an owner's events become visible in
`seq` order: a row with a higher `seq` must never commit before one with a lower `seq`, or a
reader could move its cursor past a row that commits later and never see it.

On PostgreSQL the database sees to it (migration 0007): an event's final `seq` is drawn
inside the COMMIT of its transaction, by a deferred trigger that first takes the owner's
feed lock (`pg_advisory_xact_lock`), held until the transaction is committed and visible.
It runs after every statement of the transaction, so it waits on nothing another
transaction holds: taking the lock last, after the row locks every write takes earlier (a
ledger entry locks its contact, an introduction locks itself, ...), keeps it free of
deadlocks; and holding it only for the COMMIT itself, not for a round trip and the event
loop's turn to send the COMMIT, keeps one owner's writes from queueing behind each other
(bench/README.md). SQLite has one writer at a time, so commit order is insert order there.

Events wait in the session and are inserted at commit, in one statement.
"""

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, insert, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.types import new_id, utcnow
from app.events.models import Event

_PENDING = "goodwill_pending_events"


def event_row(
    *,
    owner_id: str,
    type: str,
    resource: str,
    resource_id: str,
    data: BaseModel | dict[str, Any],
    contact_id: str | None = None,
) -> dict[str, Any]:
    """The row of `event` an event is, without its `seq` (drawn at the INSERT, and on
    PostgreSQL drawn again at COMMIT). A plain row: events are never changed once written,
    and an entity per event cost more than the INSERT (bench/README.md)."""
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
    data: BaseModel | dict[str, Any],
    contact_id: str | None = None,
) -> None:
    """Note an event for the transaction's commit."""
    row = event_row(
        owner_id=owner_id,
        type=type,
        resource=resource,
        resource_id=resource_id,
        data=data,
        contact_id=contact_id,
    )
    session.info.setdefault(_PENDING, []).append(row)


@sa_event.listens_for(Session, "before_commit")
def _insert_pending_events(session: Session) -> None:
    # Runs inside the commit, before its final flush, in the greenlet that drives the async
    # session, so it may execute SQL synchronously. SQLAlchemy also calls it when a SAVEPOINT
    # is released; the events wait for the real commit. Nothing records an event inside a
    # savepoint that may roll back: such an event would still be written.
    if session.in_nested_transaction():
        return
    pending: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    # One Core INSERT, not the unit of work: the events are never changed afterwards.
    # Sorted by owner (stable, so each owner's keep their order): the commit trigger takes
    # the owners' locks in row order, so a transaction that writes for several owners (a
    # periodic sweep) takes them in the same order as any other.
    pending.sort(key=lambda e: e["owner_id"])
    session.connection().execute(insert(_EVENTS), pending)


_EVENTS = Event.__table__  # type: ignore[attr-defined]
EVENT_COLUMNS = [column.key for column in _EVENTS.columns if column.key != "seq"]


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_pending_events(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction ended: committed or rolled back
        session.info.pop(_PENDING, None)


Payload = dict[str, Any]


def _scrub_pending(
    session: AsyncSession,
    matches: Callable[[Payload], bool],
    scrub: Callable[[Payload], Payload] | None = None,
) -> None:
    """Events of this transaction not inserted yet: scrubbed before they ever are."""
    for event in session.info.get(_PENDING, []):
        if matches(event):
            event["data"] = scrub(event["data"]) if scrub else {"erased": True}


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


_SET_DATA = (
    update(_EVENTS)
    .where(_EVENTS.c.owner_id == bindparam("b_owner_id"), _EVENTS.c.id == bindparam("b_id"))
    .values(data=bindparam("b_data", type_=_EVENTS.c.data.type))
)


async def scrub_event_fields(
    session: AsyncSession,
    *,
    owner_id: str,
    resource: str,
    resource_ids: list[str],
    fields: Mapping[str, Any],
) -> None:
    """Erasure: events about resources that stay but held the erased person's data in some
    fields (another contact's ledger entry, say) keep the rest; `fields` replaces those.
    The payloads are JSON, rewritten here rather than in SQL: the two databases share no
    JSON-editing function, and erasure touches a handful of events."""
    if not resource_ids:
        return

    def scrub(data: Payload) -> Payload:
        # An event scrubbed whole already (`{"erased": true}`) stays as it is.
        return {**data, **fields} if "erased" not in data else data

    def matches(e: Payload) -> bool:
        return (
            e["owner_id"] == owner_id
            and e["resource"] == resource
            and e["resource_id"] in resource_ids
        )

    _scrub_pending(session, matches, scrub)
    rows = (
        await session.exec(
            select(Event.id, Event.data).where(
                Event.owner_id == owner_id,
                Event.resource == resource,
                col(Event.resource_id).in_(resource_ids),
            )
        )
    ).all()
    params = [{"b_owner_id": owner_id, "b_id": id_, "b_data": scrub(data)} for id_, data in rows]
    if params:
        await session.exec(_SET_DATA, params=params)
