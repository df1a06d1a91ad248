"""Erasure's part of the change feed: events about an erased person keep their type and
ids and lose the person's data, written or still waiting in the outbox (app/core/outbox.py).
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import outbox
from app.core.outbox import Event

Payload = outbox.Payload


def _erased(_data: Payload) -> Payload:
    return {"erased": True}


async def scrub_resource_events(
    session: AsyncSession, *, owner_id: str, resource: str, resource_ids: list[str]
) -> None:
    outbox.scrub_pending(
        session,
        lambda e: (
            e["owner_id"] == owner_id
            and e["resource"] == resource
            and e["resource_id"] in resource_ids
        ),
        _erased,
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
    outbox.scrub_pending(
        session, lambda e: e["owner_id"] == owner_id and e["contact_id"] == contact_id, _erased
    )
    await session.exec(
        update(Event)
        .where(Event.owner_id == owner_id, Event.contact_id == contact_id)
        .values(data={"erased": True})
    )


_SET_DATA = (
    update(outbox.EVENTS)
    .where(
        outbox.EVENTS.c.owner_id == bindparam("b_owner_id"), outbox.EVENTS.c.id == bindparam("b_id")
    )
    .values(data=bindparam("b_data", type_=outbox.EVENTS.c.data.type))
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

    outbox.scrub_pending(session, matches, scrub)
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
