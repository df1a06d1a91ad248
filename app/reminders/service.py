"""Reminders: planned touches with one contact, open until done. The agenda reads the open
ones by due date (app/agenda/), the calendar feed shows them."""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service as contacts
from app.core.errors import ContactArchived, NotFound
from app.core.etag import make_etag
from app.core.outbox import record_event
from app.core.pagination import keyset_page
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.reminders.models import Reminder
from app.reminders.schemas import ReminderCreate, ReminderRead, ReminderUpdate


class ReminderNotFound(NotFound):
    type, title = "reminder-not-found", "Reminder not found"


def to_read(reminder: Reminder) -> ReminderRead:
    return ReminderRead.model_validate(reminder, from_attributes=True)


def reminder_etag(reminder: Reminder) -> str:
    return make_etag(reminder.version)


async def create_reminder(
    session: AsyncSession, *, owner_id: str, data: ReminderCreate
) -> Reminder:
    """The contact is locked while the reminder is written, so that an erasure (which
    deletes the contact's reminders) or an archive cannot slip in between the check and the
    insert."""
    contact = await contacts.get_contact(
        session, owner_id=owner_id, contact_id=data.contact_id, for_update=True
    )
    if contact.archived_at is not None:
        raise ContactArchived(contact.id)
    now = utcnow()
    reminder = Reminder(
        owner_id=owner_id,
        id=new_id("rem"),
        contact_id=contact.id,
        due_at=data.due_at,
        note=data.note,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(reminder)
    await session.flush()
    _record(session, reminder, "reminder.created")
    return reminder


@dataclass(frozen=True)
class ReminderFilters:
    contact_id: str | None = None
    # Due strictly before this instant.
    due_before: datetime | None = None
    # True: done ones only; False: open ones only; None: both.
    done: bool | None = None


async def list_reminders(
    session: AsyncSession,
    *,
    owner_id: str,
    filters: ReminderFilters,
    limit: int,
    cursor: str | None,
) -> tuple[list[Reminder], str | None]:
    """Soonest due first. Open ones (`done=false`) are read along the partial index of
    open reminders by due date."""
    query = select(Reminder).where(Reminder.owner_id == owner_id)
    if filters.contact_id is not None:
        query = query.where(Reminder.contact_id == filters.contact_id)
    if filters.due_before is not None:
        query = query.where(col(Reminder.due_at) < filters.due_before)
    if filters.done is True:
        query = query.where(col(Reminder.done_at).is_not(None))
    elif filters.done is False:
        query = query.where(col(Reminder.done_at).is_(None))
    return await keyset_page(
        session,
        query,
        order=[col(Reminder.due_at), col(Reminder.id)],
        kind="reminder",
        owner_id=owner_id,
        cursor=cursor,
        limit=limit,
    )


async def get_reminder(
    session: AsyncSession, *, owner_id: str, reminder_id: str, for_update: bool = False
) -> Reminder:
    return await get_owned_or_404(
        session,
        Reminder,
        owner_id=owner_id,
        id=reminder_id,
        not_found=ReminderNotFound(f"No reminder {reminder_id}."),
        for_update=for_update,
    )


async def update_reminder(
    session: AsyncSession, *, reminder: Reminder, changes: ReminderUpdate
) -> Reminder:
    """Set the fields sent; a change to an archived contact's plan waits for its restore.
    A change that changes nothing writes nothing: no new version, no event."""
    values = changes.model_dump(include=changes.model_fields_set, mode="python")
    if not any(getattr(reminder, name) != value for name, value in values.items()):
        return reminder
    contact = await contacts.get_contact(
        session, owner_id=reminder.owner_id, contact_id=reminder.contact_id
    )
    if contact.archived_at is not None:
        raise ContactArchived(contact.id)
    for name, value in values.items():
        setattr(reminder, name, value)
    _bump(reminder)
    session.add(reminder)
    await session.flush()
    _record(session, reminder, "reminder.updated")
    return reminder


async def complete_reminder(session: AsyncSession, *, reminder: Reminder) -> Reminder:
    """Mark it done, now. Done already, it stays as it was (its first `done_at`, no second
    event): a client that retries, or two devices that both tap done, see the same success.
    An archived contact's reminder can be done, as it can be deleted: that only closes it."""
    if reminder.done_at is not None:
        return reminder
    reminder.done_at = utcnow()
    _bump(reminder, at=reminder.done_at)
    session.add(reminder)
    await session.flush()
    _record(session, reminder, "reminder.done")
    return reminder


async def delete_reminder(session: AsyncSession, *, reminder: Reminder) -> None:
    """`reminder.deleted` carries it as it was."""
    read = to_read(reminder)
    await session.delete(reminder)
    await session.flush()
    _record(session, reminder, "reminder.deleted", read)


def _bump(reminder: Reminder, at: datetime | None = None) -> None:
    """A new version, so a new ETag: a write made against the old one is refused (412)."""
    reminder.version += 1
    reminder.updated_at = at or utcnow()


def _record(
    session: AsyncSession, reminder: Reminder, type_: str, read: ReminderRead | None = None
) -> None:
    record_event(
        session,
        owner_id=reminder.owner_id,
        type=type_,
        resource="reminder",
        resource_id=reminder.id,
        # The note is about the person: erasing the contact scrubs these events.
        contact_id=reminder.contact_id,
        data=read or to_read(reminder),
    )
