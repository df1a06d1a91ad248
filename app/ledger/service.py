"""The reciprocity ledger: append-only entries and the per-contact totals they move."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts.models import Contact
from app.contacts.service import ContactNotFound
from app.core.errors import Conflict, NotFound, UnprocessableContent
from app.core.outbox import EVENT_COLUMNS, Event, event_row, record_event
from app.core.pagination import keyset_page
from app.core.reads import Reader
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.ledger.models import LedgerEntry
from app.ledger.reciprocity import Reciprocity, summarize
from app.ledger.schemas import Direction, EntryKind, LedgerEntryCreate, LedgerEntryRead
from app.settings.service import owner_ratio

_FUTURE_SLACK_SECONDS = 300
_Reversal = aliased(LedgerEntry)
# Entries with the id of the reversal that cancels each, if any.
_WITH_REVERSAL = select(LedgerEntry, _Reversal.id).outerjoin(
    _Reversal,
    and_(_Reversal.owner_id == LedgerEntry.owner_id, _Reversal.reverses_id == LedgerEntry.id),
)


class LedgerEntryNotFound(NotFound):
    type, title = "ledger-entry-not-found", "Ledger entry not found"


class AlreadyReversed(Conflict):
    type, title = "already-reversed", "Entry already reversed"


class ReversalOfReversal(Conflict):
    type, title = "reversal-of-reversal", "A reversal cannot be reversed"


@dataclass(frozen=True)
class LedgerFilters:
    contact_id: str | None = None
    direction: Direction | None = None
    kind: EntryKind | None = None


def to_read(entry: LedgerEntry, reversed_by_id: str | None = None) -> LedgerEntryRead:
    return _read({name: getattr(entry, name) for name in _ENTRY_COLUMNS}, reversed_by_id)


def _read(values: Mapping[str, Any], reversed_by_id: str | None = None) -> LedgerEntryRead:
    return LedgerEntryRead(
        id=values["id"],
        contact_id=values["contact_id"],
        direction=Direction(values["direction"]),
        kind=EntryKind(values["kind"]),
        weight=values["weight"],
        occurred_at=values["occurred_at"],
        note=values["note"],
        reverses_id=values["reverses_id"],
        reversed_by_id=reversed_by_id,
        introduction_id=values["introduction_id"],
        created_at=values["created_at"],
    )


_ENTRIES = LedgerEntry.__table__  # type: ignore[attr-defined]
_CONTACTS = Contact.__table__  # type: ignore[attr-defined]
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_ENTRY_COLUMNS = [column.key for column in _ENTRIES.columns]


def _add_to(column: Any) -> Any:
    """Add the entry's weight to one of the contact's running totals, in the database itself
    (`x = x + w`), so that concurrent writers serialise on the row and no update is lost."""
    return (
        update(_CONTACTS)
        .where(
            # Not named after columns: an UPDATE reserves those names for its SET clause.
            _CONTACTS.c.owner_id == bindparam("b_owner_id"),
            _CONTACTS.c.id == bindparam("b_contact_id"),
            _CONTACTS.c.erased_at.is_(None),
        )
        .values({column: column + bindparam("b_weight")})
    )


def _add_insert_and_record(column: Any) -> Any:
    """PostgreSQL: the total moved, the entry inserted and its event written by one
    statement, one round trip. The entry is selected from the updated contact row and the
    event from the inserted entry, so no contact (or another owner's, or an erased one)
    means neither: a rowcount of 0. The event needs no waiting for the commit here: its
    `seq` is drawn at COMMIT whenever it was inserted (migration 0007)."""
    moved = _add_to(column).returning(_CONTACTS.c.id).cte("moved")
    # Prefixed: SQLAlchemy would take a parameter named after a contact column (owner_id,
    # id, created_at) as a value for the UPDATE to SET.
    fields = [bindparam(f"e_{name}", type_=_ENTRIES.c[name].type) for name in _ENTRY_COLUMNS]
    entry = (
        insert(_ENTRIES)
        .from_select(_ENTRY_COLUMNS, select(*fields).select_from(moved))
        .returning(_ENTRIES.c.id)
        .cte("entry")
    )
    event = [bindparam(f"v_{name}", type_=_EVENTS.c[name].type) for name in EVENT_COLUMNS]
    return insert(_EVENTS).from_select(EVENT_COLUMNS, select(*event).select_from(entry))


_ADD = {
    Direction.gave: _add_to(_CONTACTS.c.ledger_deposits),
    Direction.received: _add_to(_CONTACTS.c.ledger_withdrawals),
}
_ADD_INSERT_AND_RECORD = {
    Direction.gave: _add_insert_and_record(_CONTACTS.c.ledger_deposits),
    Direction.received: _add_insert_and_record(_CONTACTS.c.ledger_withdrawals),
}


async def _insert(session: AsyncSession, values: dict[str, Any]) -> LedgerEntryRead:
    """Write one entry (a full row of `ledger_entry`) and move its contact's total, in the
    request's transaction, with its event. Entries are never changed afterwards, so this is
    plain Core statements: no entity, no unit of work (bench/README.md)."""
    direction = Direction(values["direction"])
    move = {
        "b_owner_id": values["owner_id"],
        "b_contact_id": values["contact_id"],
        "b_weight": values["weight"],
    }
    read = _read(values)
    event = {
        "owner_id": values["owner_id"],
        "type": "ledger_entry.created",
        "resource": "ledger_entry",
        "resource_id": values["id"],
        "contact_id": values["contact_id"],
        "data": read,
    }
    # Core statements through the session: it flushes what is pending first.
    if session.bind.dialect.name == "postgresql":
        params = {f"e_{name}": value for name, value in values.items()}
        params.update((f"v_{name}", value) for name, value in event_row(**event).items())
        statement = _ADD_INSERT_AND_RECORD[direction]
        result: Any = await session.exec(statement, params={**params, **move})
        if result.rowcount != 1:
            raise ContactNotFound(f"No contact {values['contact_id']}.")
        return read
    result = await session.exec(_ADD[direction], params=move)
    if result.rowcount != 1:
        raise ContactNotFound(f"No contact {values['contact_id']}.")
    await session.exec(insert(_ENTRIES), params=values)
    record_event(session, **event)
    return read


def _entry(
    *,
    owner_id: str,
    contact_id: str,
    direction: str,
    kind: str,
    weight: int,
    occurred_at: datetime,
    note: str | None,
    created_at: datetime,
    reverses_id: str | None = None,
    introduction_id: str | None = None,
) -> dict[str, Any]:
    return {
        "owner_id": owner_id,
        "id": new_id("le"),
        "contact_id": contact_id,
        "direction": direction,
        "kind": kind,
        "weight": weight,
        "occurred_at": occurred_at,
        "note": note,
        "reverses_id": reverses_id,
        "introduction_id": introduction_id,
        "created_at": created_at,
    }


async def record_entry(
    session: AsyncSession, *, owner_id: str, data: LedgerEntryCreate
) -> LedgerEntryRead:
    now = utcnow()
    occurred_at = data.occurred_at.astimezone(UTC) if data.occurred_at else now
    if (occurred_at - now).total_seconds() > _FUTURE_SLACK_SECONDS:
        raise UnprocessableContent(
            "A ledger entry cannot be in the future.",
            errors=[{"field": "occurred_at", "message": "must not be in the future"}],
        )
    entry = _entry(
        owner_id=owner_id,
        contact_id=data.contact_id,
        direction=data.direction.value,
        kind=data.kind.value,
        weight=data.weight,
        occurred_at=occurred_at,
        note=data.note,
        created_at=now,
    )
    return await _insert(session, entry)


async def record_deposit(
    session: AsyncSession,
    *,
    owner_id: str,
    contact_id: str,
    kind: str,
    weight: int,
    note: str | None,
    introduction_id: str | None = None,
) -> LedgerEntryRead:
    """A deposit written by the service itself (making an introduction, say)."""
    now = utcnow()
    entry = _entry(
        owner_id=owner_id,
        contact_id=contact_id,
        direction=Direction.gave.value,
        kind=kind,
        weight=weight,
        occurred_at=now,
        note=note,
        introduction_id=introduction_id,
        created_at=now,
    )
    return await _insert(session, entry)


async def get_entry(
    session: AsyncSession, *, owner_id: str, entry_id: str
) -> tuple[LedgerEntry, str | None]:
    """The entry and the id of the reversal that cancels it, if any."""
    row = await get_owned_or_404(
        session,
        LedgerEntry,
        owner_id=owner_id,
        id=entry_id,
        not_found=LedgerEntryNotFound(f"No ledger entry {entry_id}."),
        query=_WITH_REVERSAL,
    )
    return row[0], row[1]


async def reverse_entry(
    session: AsyncSession, *, owner_id: str, entry_id: str, note: str | None
) -> LedgerEntryRead:
    original, reversed_by = await get_entry(session, owner_id=owner_id, entry_id=entry_id)
    if original.reverses_id is not None:
        raise ReversalOfReversal(
            f"{entry_id} is itself a reversal (of {original.reverses_id}); record a new entry "
            "instead."
        )
    if reversed_by is not None:
        raise AlreadyReversed(f"{entry_id} was already reversed by {reversed_by}.")
    now = utcnow()
    reversal = _entry(
        owner_id=owner_id,
        contact_id=original.contact_id,
        direction=original.direction,
        kind=original.kind,
        weight=-original.weight,
        occurred_at=now,
        note=note,
        reverses_id=original.id,
        introduction_id=original.introduction_id,
        created_at=now,
    )
    try:
        return await _insert(session, reversal)
    except IntegrityError as exc:
        # Another request reversed it between our read and our insert.
        raise AlreadyReversed(f"{entry_id} was already reversed.") from exc


async def list_entries(
    session: AsyncSession,
    *,
    owner_id: str,
    filters: LedgerFilters,
    limit: int,
    cursor: str | None,
) -> tuple[list[LedgerEntryRead], str | None]:
    """Newest first."""
    query = _WITH_REVERSAL.where(LedgerEntry.owner_id == owner_id)
    if filters.contact_id is not None:
        query = query.where(LedgerEntry.contact_id == filters.contact_id)
    if filters.direction is not None:
        query = query.where(LedgerEntry.direction == filters.direction.value)
    if filters.kind is not None:
        query = query.where(LedgerEntry.kind == filters.kind.value)
    rows, next_cursor = await keyset_page(
        session,
        query,
        order=[col(LedgerEntry.occurred_at), col(LedgerEntry.id)],
        descending=True,
        kind="ledger",
        owner_id=owner_id,
        cursor=cursor,
        limit=limit,
        key=lambda row: (row[0].occurred_at, row[0].id),
    )
    return [to_read(entry, reversed_by) for entry, reversed_by in rows], next_cursor


# Built once, like the GET of a contact: the contact's totals and its owner's ratio.
_READ_BALANCE = select(
    Contact.ledger_deposits,
    Contact.ledger_withdrawals,
    Contact.due_at,
    owner_ratio(bindparam("owner_id")).label("ratio"),
).where(
    Contact.owner_id == bindparam("owner_id"),
    Contact.id == bindparam("contact_id"),
    col(Contact.erased_at).is_(None),
)


async def reciprocity(
    reader: Reader, *, owner_id: str, contact_id: str, ask_weight: int
) -> Reciprocity:
    """One indexed row read, whatever the length of the ledger."""
    rows = await reader.rows(_READ_BALANCE, {"owner_id": owner_id, "contact_id": contact_id})
    if not rows:
        raise ContactNotFound(f"No contact {contact_id}.")
    row = rows[0]
    due_at = row["due_at"]
    return summarize(
        deposits=row["ledger_deposits"],
        withdrawals=row["ledger_withdrawals"],
        ratio=row["ratio"],
        ask_weight=ask_weight,
        stale=due_at is not None and due_at < utcnow(),
    )
