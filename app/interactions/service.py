"""Interactions: touchpoints with a contact, which drive its staleness."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service as contacts
from app.contacts.models import Contact
from app.core.errors import ContactArchived, NotFound
from app.core.outbox import record_event
from app.core.pagination import keyset_page
from app.core.repository import get_owned_or_404
from app.core.schemas import ID_MAX_LENGTH
from app.core.types import new_id, utcnow
from app.core.writes import insert_after_update
from app.interactions.models import Interaction
from app.interactions.schemas import InteractionCreate, InteractionRead, InteractionUpdate


class InteractionNotFound(NotFound):
    type, title = "interaction-not-found", "Interaction not found"


_INTERACTIONS = Interaction.__table__  # type: ignore[attr-defined]
_FIELDS = list(InteractionRead.model_fields)


def to_read(source: Interaction | Mapping[str, Any]) -> InteractionRead:
    """The one presenter of an interaction, from an entity or a row of `interaction`."""
    if isinstance(source, Interaction):
        return InteractionRead.model_validate(source, from_attributes=True)
    return InteractionRead(**{name: source[name] for name in _FIELDS})


async def log_interaction(
    session: AsyncSession, *, owner_id: str, contact_id: str, data: InteractionCreate
) -> InteractionRead:
    """Record a touchpoint and move the contact's last interaction (and so its due date):
    one `insert_after_update` moves it, inserts the row and records the event; when it moved
    no contact, nothing is written and the contact's absence or archival is told.
    Interactions are written once here, never changed in the request
    (docs/decisions/2026-12-07-interactions-and-introductions-on-the-hot-paths.md)."""
    if len(contact_id) > ID_MAX_LENGTH:
        # No contact has such an id, and the answer and event built before the write could
        # not carry it: told as the write would tell it.
        raise contacts.ContactNotFound(f"No contact {contact_id}.")
    now = utcnow()
    row = {
        "id": new_id("int"),
        "owner_id": owner_id,
        "contact_id": contact_id,
        "kind": data.kind.value,
        "occurred_at": data.occurred_at or now,
        "summary": data.summary,
        "initiated_by": data.initiated_by.value,
        "created_at": now,
    }
    touch, params = contacts.touch_interaction(
        owner_id=owner_id, contact_id=contact_id, at=row["occurred_at"], now=now
    )
    read = to_read(row)
    written = await insert_after_update(
        session,
        touch,
        params,
        _INTERACTIONS,
        row,
        event={
            "owner_id": owner_id,
            "type": "interaction.created",
            "resource": "interaction",
            "resource_id": row["id"],
            "contact_id": contact_id,
            "data": read,
        },
    )
    if not written:
        raise await contacts.untouched(session, owner_id=owner_id, contact_id=contact_id)
    return read


async def list_interactions(
    session: AsyncSession, *, owner_id: str, contact_id: str, limit: int, cursor: str | None
) -> tuple[list[Interaction], str | None]:
    """Newest first."""
    return await keyset_page(
        session,
        select(Interaction).where(
            Interaction.owner_id == owner_id, Interaction.contact_id == contact_id
        ),
        order=[col(Interaction.occurred_at), col(Interaction.id)],
        descending=True,
        kind=f"interaction:{contact_id}",
        owner_id=owner_id,
        cursor=cursor,
        limit=limit,
    )


async def get_interaction(
    session: AsyncSession, *, owner_id: str, contact_id: str, interaction_id: str
) -> Interaction:
    return await get_owned_or_404(
        session,
        Interaction,
        owner_id=owner_id,
        id=interaction_id,
        not_found=InteractionNotFound(f"No interaction {interaction_id} on contact {contact_id}."),
        extra=[Interaction.contact_id == contact_id],
    )


async def find_for_correction(
    session: AsyncSession, *, owner_id: str, contact_id: str, interaction_id: str
) -> tuple[Contact, Interaction]:
    """The contact, locked, and its interaction, for a correction: the lock orders it with
    every other write of the contact's interactions (log_interaction's UPDATE takes it too), so the
    last interaction recomputed afterwards is the one that stands. An archived contact's
    record is not corrected until it is restored."""
    contact = await contacts.get_contact(
        session, owner_id=owner_id, contact_id=contact_id, for_update=True
    )
    interaction = await get_interaction(
        session, owner_id=owner_id, contact_id=contact_id, interaction_id=interaction_id
    )
    if contact.archived_at is not None:
        raise ContactArchived(contact_id)
    return contact, interaction


async def update_interaction(
    session: AsyncSession, *, contact: Contact, interaction: Interaction, changes: InteractionUpdate
) -> InteractionRead:
    """Set the fields sent; when that changes anything, record `interaction.updated` and
    let the contact's last interaction follow."""
    values = changes.model_dump(include=changes.model_fields_set, mode="python")
    changed = False
    for name, value in values.items():
        value = value.value if name in ("kind", "initiated_by") else value
        if getattr(interaction, name) != value:
            setattr(interaction, name, value)
            changed = True
    read = to_read(interaction)
    if changed:
        session.add(interaction)
        await session.flush()
        await _follow_latest(session, contact)
        _record(session, interaction, "interaction.updated", read)
    return read


async def delete_interaction(
    session: AsyncSession, *, contact: Contact, interaction: Interaction
) -> None:
    """Remove a touch logged by mistake; `interaction.deleted` carries it as it was."""
    read = to_read(interaction)
    await session.delete(interaction)
    await session.flush()
    await _follow_latest(session, contact)
    _record(session, interaction, "interaction.deleted", read)


async def _follow_latest(session: AsyncSession, contact: Contact) -> None:
    """The contact's last interaction is its latest one still recorded (None when none is)."""
    latest = (
        await session.exec(
            select(func.max(col(Interaction.occurred_at))).where(
                Interaction.owner_id == contact.owner_id, Interaction.contact_id == contact.id
            )
        )
    ).one()
    if latest != contact.last_interaction_at:
        await contacts.set_last_interaction(session, contact=contact, at=latest)


def _record(
    session: AsyncSession, interaction: Interaction, type_: str, read: InteractionRead
) -> None:
    record_event(
        session,
        owner_id=interaction.owner_id,
        type=type_,
        resource="interaction",
        resource_id=interaction.id,
        contact_id=interaction.contact_id,
        data=read,
    )
