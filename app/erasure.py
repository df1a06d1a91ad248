"""Erasure (`DELETE /v1/contacts/{id}?erase=true`): a person's data goes for good.

Kept in one module above the domains because it reaches into all of them: contacts,
interactions, the ledger, introductions, the change feed and stored responses. Whatever a
new table keeps about a contact belongs on the list here.
"""

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts.models import Contact, ContactExternalRef, ContactIdentifier, ContactTag
from app.contacts.schemas import TrustStage
from app.contacts.service import bump_version
from app.core import idempotency
from app.core.types import utcnow
from app.events.service import record_event, scrub_contact_events, scrub_resource_events
from app.interactions.models import Interaction
from app.introductions.models import Introduction
from app.ledger.models import LedgerEntry

_PERSONAL_FIELDS = (
    "given_name",
    "family_name",
    "organization",
    "title",
    "timezone",
    "notes",
    "cadence_days",
    "last_interaction_at",
    "due_at",
    "archived_at",
)


async def erase_contact(session: AsyncSession, *, contact: Contact) -> None:
    """Erase personal data for good. The row stays as an anonymous tombstone so that ledger
    totals keep their contact; everything that could identify the person goes."""
    owner_id, contact_id = contact.owner_id, contact.id
    for name in _PERSONAL_FIELDS:
        setattr(contact, name, None)
    contact.display_name = ""
    contact.tags, contact.channels, contact.external_refs = [], [], {}
    contact.search_text, contact.channel_uses = "", ","
    contact.trust_stage = TrustStage.acquaintance.value
    contact.erased_at = utcnow()
    bump_version(contact)
    session.add(contact)
    await session.flush()
    # Introductions this person was part of go whole (with their timelines), and so do
    # their change-feed events and stored replies: their texts are about the person.
    intro_ids = list(
        (
            await session.exec(
                select(Introduction.id).where(
                    Introduction.owner_id == owner_id,
                    or_(
                        Introduction.requester_id == contact_id,
                        Introduction.target_id == contact_id,
                    ),
                )
            )
        ).all()
    )
    if intro_ids:
        await scrub_resource_events(
            session, owner_id=owner_id, resource="introduction", resource_ids=intro_ids
        )
        for intro_id in intro_ids:
            await idempotency.forget_responses_mentioning(session, owner_id=owner_id, text=intro_id)
        await session.exec(
            delete(Introduction).where(
                Introduction.owner_id == owner_id, col(Introduction.id).in_(intro_ids)
            )
        )
    # Interactions and ledger entries go whole: their notes are about the person. The
    # contact row keeps the ledger totals, anonymous now.
    for model in (ContactTag, ContactExternalRef, ContactIdentifier, Interaction, LedgerEntry):
        await session.exec(
            delete(model).where(model.owner_id == owner_id, model.contact_id == contact_id)
        )
    await scrub_contact_events(session, owner_id=owner_id, contact_id=contact_id)
    await idempotency.forget_responses_mentioning(session, owner_id=owner_id, text=contact_id)
    record_event(
        session,
        owner_id=owner_id,
        type="contact.erased",
        resource="contact",
        resource_id=contact_id,
        data={"id": contact_id},
    )
