"""The reciprocity ledger: append-only entries and the per-contact totals they move."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts.models import Contact
from app.contacts.service import ContactNotFound
from app.core.db import fetch_rows, insert_row
from app.core.errors import Conflict, NotFound, UnprocessableContent
from app.core.pagination import decode_cursor, encode_cursor
from app.core.types import new_id, utcnow
from app.events.service import record_event
from app.ledger.models import LedgerEntry
from app.ledger.reciprocity import Reciprocity, summarize
from app.ledger.schemas import Direction, EntryKind, LedgerEntryCreate, LedgerEntryRead
from app.settings.service import owner_ratio

_FUTURE_SLACK_SECONDS = 300
_Reversal = aliased(LedgerEntry)


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
    return LedgerEntryRead(
        id=entry.id,
        contact_id=entry.contact_id,
        direction=Direction(entry.direction),
        kind=EntryKind(entry.kind),
        weight=entry.weight,
        occurred_at=entry.occurred_at,
        note=entry.note,
        reverses_id=entry.reverses_id,
        reversed_by_id=reversed_by_id,
        introduction_id=entry.introduction_id,
        created_at=entry.created_at,
    )


def _add_to(column: Any) -> Any:
    contact = Contact.__table__  # type: ignore[attr-defined]
    return (
        update(contact)
        .where(
            # Not named after columns: an UPDATE reserves those names for its SET clause.
            contact.c.owner_id == bindparam("b_owner_id"),
            contact.c.id == bindparam("b_contact_id"),
            contact.c.erased_at.is_(None),
        )
        .values({column: column + bindparam("b_weight")})
    )


_ADD_DEPOSIT = _add_to(Contact.__table__.c.ledger_deposits)  # type: ignore[attr-defined]
_ADD_WITHDRAWAL = _add_to(Contact.__table__.c.ledger_withdrawals)  # type: ignore[attr-defined]


async def _move_balance(
    session: AsyncSession, *, owner_id: str, contact_id: str, direction: str, weight: int
) -> None:
    """Add to the contact's running total in the database itself (`x = x + w`), so that
    concurrent writers serialise on the row and no update is lost."""
    statement = _ADD_DEPOSIT if direction == Direction.gave else _ADD_WITHDRAWAL
    params = {"b_owner_id": owner_id, "b_contact_id": contact_id, "b_weight": weight}
    # A table (Core) statement through the session: it flushes what is pending first, and
    # skips the ORM's bulk-update machinery, which has no entities to keep in step here.
    result: Any = await session.exec(statement, params=params)
    if result.rowcount == 0:
        raise ContactNotFound(f"No contact {contact_id}.")


async def _insert(session: AsyncSession, entry: LedgerEntry) -> LedgerEntry:
    await _move_balance(
        session,
        owner_id=entry.owner_id,
        contact_id=entry.contact_id,
        direction=entry.direction,
        weight=entry.weight,
    )
    await insert_row(session, entry)
    record_event(
        session,
        owner_id=entry.owner_id,
        type="ledger_entry.created",
        resource="ledger_entry",
        resource_id=entry.id,
        contact_id=entry.contact_id,
        data=to_read(entry),
    )
    return entry


async def record_entry(
    session: AsyncSession, *, owner_id: str, data: LedgerEntryCreate
) -> LedgerEntry:
    now = utcnow()
    occurred_at = data.occurred_at.astimezone(UTC) if data.occurred_at else now
    if (occurred_at - now).total_seconds() > _FUTURE_SLACK_SECONDS:
        raise UnprocessableContent(
            "A ledger entry cannot be in the future.",
            errors=[{"field": "occurred_at", "message": "must not be in the future"}],
        )
    entry = LedgerEntry(
        id=new_id("le"),
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
) -> LedgerEntry:
    """A deposit written by the service itself (making an introduction, say)."""
    now = utcnow()
    entry = LedgerEntry(
        id=new_id("le"),
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
    row = (
        await session.exec(
            select(LedgerEntry, _Reversal.id)
            .outerjoin(
                _Reversal,
                and_(
                    _Reversal.owner_id == LedgerEntry.owner_id,
                    _Reversal.reverses_id == LedgerEntry.id,
                ),
            )
            .where(LedgerEntry.owner_id == owner_id, LedgerEntry.id == entry_id)
        )
    ).first()
    if row is None:
        raise LedgerEntryNotFound(f"No ledger entry {entry_id}.")
    return row[0], row[1]


async def reverse_entry(
    session: AsyncSession, *, owner_id: str, entry_id: str, note: str | None
) -> LedgerEntry:
    original, reversed_by = await get_entry(session, owner_id=owner_id, entry_id=entry_id)
    if original.reverses_id is not None:
        raise ReversalOfReversal(
            f"{entry_id} is itself a reversal (of {original.reverses_id}); record a new entry "
            "instead."
        )
    if reversed_by is not None:
        raise AlreadyReversed(f"{entry_id} was already reversed by {reversed_by}.")
    now = utcnow()
    reversal = LedgerEntry(
        id=new_id("le"),
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
    query = (
        select(LedgerEntry, _Reversal.id)
        .outerjoin(
            _Reversal,
            and_(
                _Reversal.owner_id == LedgerEntry.owner_id, _Reversal.reverses_id == LedgerEntry.id
            ),
        )
        .where(LedgerEntry.owner_id == owner_id)
    )
    if filters.contact_id is not None:
        query = query.where(LedgerEntry.contact_id == filters.contact_id)
    if filters.direction is not None:
        query = query.where(LedgerEntry.direction == filters.direction.value)
    if filters.kind is not None:
        query = query.where(LedgerEntry.kind == filters.kind.value)
    occurred, entry_id = col(LedgerEntry.occurred_at), col(LedgerEntry.id)
    if cursor:
        at, after_id = decode_cursor(cursor, "ledger", (datetime, str))
        query = query.where((occurred < at) | ((occurred == at) & (entry_id < after_id)))
    rows = list(
        (
            await session.exec(query.order_by(occurred.desc(), entry_id.desc()).limit(limit + 1))
        ).all()
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor("ledger", [last.occurred_at, last.id])
    return [to_read(entry, reversed_by) for entry, reversed_by in rows[:limit]], next_cursor


# Built once, like the GET of a contact: the contact's totals and its owner's ratio.
_READ_BALANCE = select(
    Contact.ledger_deposits,
    Contact.ledger_withdrawals,
    Contact.due_at,
    owner_ratio(bindparam("owner_id")),
).where(
    Contact.owner_id == bindparam("owner_id"),
    Contact.id == bindparam("contact_id"),
    col(Contact.erased_at).is_(None),
)


async def reciprocity(
    session: AsyncSession, *, owner_id: str, contact_id: str, ask_weight: int
) -> Reciprocity:
    """One indexed row read, whatever the length of the ledger."""
    params = {"owner_id": owner_id, "contact_id": contact_id}
    rows = await fetch_rows(session, _READ_BALANCE, params)
    if not rows:
        raise ContactNotFound(f"No contact {contact_id}.")
    deposits, withdrawals, due_at, ratio = rows[0]
    return summarize(
        deposits=deposits,
        withdrawals=withdrawals,
        ratio=ratio,
        ask_weight=ask_weight,
        stale=due_at is not None and due_at < utcnow(),
    )
