"""Recording events. Every write calls `record_event` inside its own transaction."""

from typing import Any

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.types import new_id, utcnow
from app.events.models import Event


def record_event(
    session: AsyncSession,
    *,
    owner_id: str,
    type: str,
    resource: str,
    resource_id: str,
    data: BaseModel | dict[str, Any],
    contact_id: str | None = None,
) -> Event:
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    event = Event(
        id=new_id("ev"),
        owner_id=owner_id,
        type=type,
        resource=resource,
        resource_id=resource_id,
        contact_id=contact_id,
        occurred_at=utcnow(),
        data=payload,
    )
    session.add(event)
    return event


async def scrub_resource_events(
    session: AsyncSession, *, owner_id: str, resource: str, resource_ids: list[str]
) -> None:
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
    await session.exec(
        update(Event)
        .where(Event.owner_id == owner_id, Event.contact_id == contact_id)
        .values(data={"erased": True})
    )
