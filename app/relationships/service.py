"""Relationships: two of the owner's contacts know each other. Undirected, so a pair is kept
once, its ids in order (`contact_a_id < contact_b_id`), whichever order a client sends them
in; one row a pair and kind. Warm paths (app/network/) walk these edges."""

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service as contacts
from app.core.errors import Conflict, ContactArchived, NotFound
from app.core.etag import make_etag
from app.core.outbox import record_event
from app.core.pagination import keyset_page
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.relationships.models import Relationship
from app.relationships.schemas import (
    RelationshipCreate,
    RelationshipKind,
    RelationshipRead,
    RelationshipUpdate,
)

# What making an introduction adds between its requester and target.
INTRODUCED_STRENGTH = 3


class RelationshipNotFound(NotFound):
    type, title = "relationship-not-found", "Relationship not found"


class RelationshipExists(Conflict):
    type, title = "relationship-exists", "Relationship already recorded"


def to_read(relationship: Relationship) -> RelationshipRead:
    return RelationshipRead(
        id=relationship.id,
        contact_ids=[relationship.contact_a_id, relationship.contact_b_id],
        kind=RelationshipKind(relationship.kind),
        strength=relationship.strength,
        note=relationship.note,
        created_at=relationship.created_at,
        updated_at=relationship.updated_at,
    )


def relationship_etag(relationship: Relationship) -> str:
    return make_etag(relationship.version)


def _pair(first: str, second: str) -> tuple[str, str]:
    """The pair in the order it is stored: the table's one row per pair and kind."""
    return (first, second) if first < second else (second, first)


async def create_relationship(
    session: AsyncSession, *, owner_id: str, data: RelationshipCreate
) -> Relationship:
    """Both contacts are locked (in stored order, so two writes to one pair cannot deadlock)
    while the edge is written: an erasure, which deletes a contact's relationships, or an
    archive cannot slip in between the checks and the insert, and a second request for the
    same pair and kind waits and then finds the first's row."""
    a_id, b_id = _pair(*data.contact_ids)
    for contact_id in (a_id, b_id):
        contact = await contacts.get_contact(
            session, owner_id=owner_id, contact_id=contact_id, for_update=True
        )
        if contact.archived_at is not None:
            raise ContactArchived(contact.id)
    await _refuse_existing(session, owner_id, a_id, b_id, data.kind.value)
    now = utcnow()
    relationship = Relationship(
        owner_id=owner_id,
        id=new_id("rel"),
        contact_a_id=a_id,
        contact_b_id=b_id,
        kind=data.kind.value,
        strength=data.strength,
        note=data.note,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(relationship)
    try:
        await session.flush()
    except IntegrityError as exc:  # the unique (owner, a, b, kind) settles any race left
        raise RelationshipExists(
            f"These two contacts already have a `{data.kind.value}` relationship."
        ) from exc
    _record(session, relationship, "relationship.created")
    return relationship


async def _existing_id(
    session: AsyncSession, owner_id: str, a_id: str, b_id: str, kind: str
) -> str | None:
    return (
        await session.exec(
            select(Relationship.id).where(
                Relationship.owner_id == owner_id,
                Relationship.contact_a_id == a_id,
                Relationship.contact_b_id == b_id,
                Relationship.kind == kind,
            )
        )
    ).first()


async def _refuse_existing(
    session: AsyncSession,
    owner_id: str,
    a_id: str,
    b_id: str,
    kind: str,
    relationship_id: str | None = None,
) -> None:
    """409 naming the relationship the pair already has of this kind as `existing_id`, so a
    client that meant to change it knows which one to PATCH."""
    existing = await _existing_id(session, owner_id, a_id, b_id, kind)
    if existing is not None and existing != relationship_id:
        raise RelationshipExists(
            f"Relationship {existing} already says these two contacts are `{kind}`.",
            existing_id=existing,
        )


async def add_introduced(
    session: AsyncSession, *, owner_id: str, requester_id: str, target_id: str, introduction_id: str
) -> Relationship | None:
    """Making an introduction: the requester and the target now know each other, an
    `introduced` edge, unless the pair has one already (an earlier introduction, or the
    owner's own record). Written whatever the contacts' state: it records what happened,
    as the introduction's deposit does. None when there was one."""
    a_id, b_id = _pair(requester_id, target_id)
    kind = RelationshipKind.introduced.value
    if await _existing_id(session, owner_id, a_id, b_id, kind) is not None:
        return None
    now = utcnow()
    relationship = Relationship(
        owner_id=owner_id,
        id=new_id("rel"),
        contact_a_id=a_id,
        contact_b_id=b_id,
        kind=kind,
        strength=INTRODUCED_STRENGTH,
        note=f"Introduced by the owner (introduction {introduction_id}).",
        version=1,
        created_at=now,
        updated_at=now,
    )
    try:
        # A savepoint: losing a race with another introduction of the same pair made at the
        # same moment must not undo the making of this one.
        async with session.begin_nested():
            session.add(relationship)
    except IntegrityError:
        return None
    _record(session, relationship, "relationship.created")
    return relationship


async def list_relationships(
    session: AsyncSession,
    *,
    owner_id: str,
    contact_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Relationship], str | None]:
    """Oldest first (ids are time-ordered). With `contact_id`, that contact's, found from
    either end through the two indexes."""
    query = select(Relationship).where(Relationship.owner_id == owner_id)
    if contact_id is not None:
        query = query.where(
            or_(Relationship.contact_a_id == contact_id, Relationship.contact_b_id == contact_id)
        )
    return await keyset_page(
        session,
        query,
        order=[col(Relationship.id)],
        kind="relationship",
        owner_id=owner_id,
        cursor=cursor,
        limit=limit,
    )


async def get_relationship(
    session: AsyncSession, *, owner_id: str, relationship_id: str, for_update: bool = False
) -> Relationship:
    return await get_owned_or_404(
        session,
        Relationship,
        owner_id=owner_id,
        id=relationship_id,
        not_found=RelationshipNotFound(f"No relationship {relationship_id}."),
        for_update=for_update,
    )


async def update_relationship(
    session: AsyncSession, *, relationship: Relationship, changes: RelationshipUpdate
) -> Relationship:
    """Set the fields sent; a change to an archived contact's relationship waits for its
    restore. A change that changes nothing writes nothing: no new version, no event. A kind
    the pair already has in another row is a 409 naming it."""
    values = changes.model_dump(include=changes.model_fields_set, mode="json")
    if not any(getattr(relationship, name) != value for name, value in values.items()):
        return relationship
    owner_id = relationship.owner_id
    for contact_id in (relationship.contact_a_id, relationship.contact_b_id):
        contact = await contacts.get_contact(session, owner_id=owner_id, contact_id=contact_id)
        if contact.archived_at is not None:
            raise ContactArchived(contact.id)
    if "kind" in values and values["kind"] != relationship.kind:
        await _refuse_existing(
            session,
            owner_id,
            relationship.contact_a_id,
            relationship.contact_b_id,
            values["kind"],
            relationship.id,
        )
    for name, value in values.items():
        setattr(relationship, name, value)
    relationship.version += 1
    relationship.updated_at = utcnow()
    session.add(relationship)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise RelationshipExists(
            f"These two contacts already have a `{relationship.kind}` relationship."
        ) from exc
    _record(session, relationship, "relationship.updated")
    return relationship


async def delete_relationship(session: AsyncSession, *, relationship: Relationship) -> None:
    """`relationship.deleted` carries it as it was. An archived contact's relationships can
    be deleted: that only forgets."""
    read = to_read(relationship)
    await session.delete(relationship)
    await session.flush()
    _record(session, relationship, "relationship.deleted", read)


def _record(
    session: AsyncSession,
    relationship: Relationship,
    type_: str,
    read: RelationshipRead | None = None,
) -> None:
    record_event(
        session,
        owner_id=relationship.owner_id,
        type=type_,
        resource="relationship",
        resource_id=relationship.id,
        # The note is about both people: erasing either scrubs these events (app/erasure.py
        # finds them by the contact ids they carry; this column serves the first).
        contact_id=relationship.contact_a_id,
        data=read or to_read(relationship),
    )
