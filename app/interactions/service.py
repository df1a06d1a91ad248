"""Interactions: touchpoints with a contact, which drive its staleness."""

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service as contacts
from app.contacts.models import Contact
from app.core.db import insert_row
from app.core.errors import NotFound
from app.core.outbox import record_event
from app.core.pagination import keyset_page
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.interactions.models import Interaction
from app.interactions.schemas import InteractionCreate, InteractionRead


class InteractionNotFound(NotFound):
    type, title = "interaction-not-found", "Interaction not found"


def to_read(interaction: Interaction) -> InteractionRead:
    return InteractionRead.model_validate(interaction, from_attributes=True)


async def log_interaction(
    session: AsyncSession, *, contact: Contact, data: InteractionCreate
) -> Interaction:
    now = utcnow()
    interaction = Interaction(
        id=new_id("int"),
        owner_id=contact.owner_id,
        contact_id=contact.id,
        kind=data.kind.value,
        occurred_at=data.occurred_at or now,
        summary=data.summary,
        initiated_by=data.initiated_by.value,
        created_at=now,
    )
    # Written once, never changed in this request: one INSERT, not the unit of work.
    await insert_row(session, interaction)
    await contacts.touch_interaction(session, contact=contact, at=interaction.occurred_at)
    record_event(
        session,
        owner_id=contact.owner_id,
        type="interaction.created",
        resource="interaction",
        resource_id=interaction.id,
        contact_id=contact.id,
        data=to_read(interaction),
    )
    return interaction


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
