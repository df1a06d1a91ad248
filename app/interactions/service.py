"""Interactions: touchpoints with a contact, which drive its staleness."""

from collections.abc import Mapping
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service as contacts
from app.core.errors import NotFound
from app.core.pagination import keyset_page
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.core.writes import insert_after_update
from app.interactions.models import Interaction
from app.interactions.schemas import InteractionCreate, InteractionRead


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
    the contact is locked, then one `insert_after_update` moves it, inserts the row and
    records the event. Interactions are written once here, never changed in the request
    (docs/decisions/2026-12-07-interactions-and-introductions-on-the-hot-paths.md)."""
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
    touch, params = await contacts.touch_interaction(
        session, owner_id=owner_id, contact_id=contact_id, at=row["occurred_at"], now=now
    )
    read = to_read(row)
    await insert_after_update(
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
