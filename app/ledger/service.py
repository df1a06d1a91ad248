"""The reciprocity ledger: append-only entries and the per-contact totals they move."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts.models import Contact
from app.contacts.service import ContactNotFound
from app.core.errors import Conflict, ContactArchived, GoodwillError, NotFound
from app.core.pagination import keyset_page
from app.core.reads import Reader
from app.core.reciprocity import contact_reciprocity
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.core.writes import insert_after_update
from app.ledger.models import LedgerEntry
from app.ledger.schemas import Direction, EntryKind, LedgerEntryCreate, LedgerEntryRead
from app.settings.service import owner_ratio

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
            # An archived contact takes no new entries: refused by the row this moves, so
            # the hot path pays no extra read (`_refusal` tells why, only when it fails).
            _CONTACTS.c.archived_at.is_(None),
        )
        .values({column: column + bindparam("b_weight")})
    )


_ADD = {
    Direction.gave: _add_to(_CONTACTS.c.ledger_deposits),
    Direction.received: _add_to(_CONTACTS.c.ledger_withdrawals),
}


async def _insert(session: AsyncSession, values: dict[str, Any]) -> LedgerEntryRead:
    """Write one entry (a full row of `ledger_entry`) and move its contact's total, in the
    request's transaction, with its event. Entries are never changed afterwards, so this is
    plain Core statements: no entity, no unit of work
    (docs/decisions/2026-11-22-write-once-rows-as-plain-inserts.md). No contact (another
    owner's, or an erased one) means no total moved, no entry and no event."""
    read = _read(values)
    moved = await insert_after_update(
        session,
        _ADD[Direction(values["direction"])],
        {
            "b_owner_id": values["owner_id"],
            "b_contact_id": values["contact_id"],
            "b_weight": values["weight"],
        },
        _ENTRIES,
        values,
        event={
            "owner_id": values["owner_id"],
            "type": "ledger_entry.created",
            "resource": "ledger_entry",
            "resource_id": values["id"],
            "contact_id": values["contact_id"],
            "data": read,
        },
    )
    if not moved:
        raise await _refusal(session, values["owner_id"], values["contact_id"])
    return read


_ARCHIVED_AT = select(Contact.archived_at).where(
    Contact.owner_id == bindparam("owner_id"),
    Contact.id == bindparam("contact_id"),
    col(Contact.erased_at).is_(None),
)


async def _refusal(session: AsyncSession, owner_id: str, contact_id: str) -> GoodwillError:
    """Why an entry's contact total did not move: the contact is archived, or not there."""
    params = {"owner_id": owner_id, "contact_id": contact_id}
    if (await session.exec(_ARCHIVED_AT, params=params)).first() is not None:
        return ContactArchived(contact_id)
    return ContactNotFound(f"No contact {contact_id}.")


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
    entry = _entry(
        owner_id=owner_id,
        contact_id=data.contact_id,
        direction=data.direction.value,
        kind=data.kind.value,
        weight=data.weight,
        occurred_at=data.occurred_at or now,
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
) -> dict[str, Any]:
    """The fields of `Reciprocity`, from the function that a contact's document embeds them
    from. One indexed row read, whatever the length of the ledger."""
    rows = await reader.rows(_READ_BALANCE, {"owner_id": owner_id, "contact_id": contact_id})
    if not rows:
        raise ContactNotFound(f"No contact {contact_id}.")
    row = rows[0]
    return contact_reciprocity(row, row["ratio"], utcnow(), ask_weight=ask_weight)
