"""Erasure (`DELETE /v1/contacts/{id}?erase=true`): a person's data goes for good, from every
row and event that carries it, and from stored responses.

Kept in one module above the domains because it reaches into all of them: contacts,
interactions, the ledger, introductions, reminders, relationships, the change feed and stored
responses.
Whatever a new table keeps about a contact, directly or through an introduction, belongs on
the list here.

What is left afterwards belongs to other people: the contact row as an anonymous tombstone
holding the ledger totals (API.md: "only anonymous ledger totals remain"), and the other
party's deposits from introductions with the person, without their notes. Webhook
deliveries need nothing of their own: they hold no copy of an event, whose body is built
from the event row when it is sent, so a scrubbed event goes out scrubbed.
"""

from sqlalchemy import Text, cast, delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts.models import (
    Contact,
    ContactExternalRef,
    ContactIdentifier,
    ContactPhrase,
    ContactTag,
    ContactToken,
)
from app.contacts.schemas import TrustStage
from app.contacts.service import bump_version
from app.contacts.tokens import forget_unused_tokens
from app.core import idempotency
from app.core.outbox import Event, record_event
from app.core.types import utcnow
from app.events.service import (
    scrub_contact_events,
    scrub_event_fields,
    scrub_resource_events,
)
from app.interactions.models import Interaction
from app.introductions.models import Introduction
from app.ledger.models import LedgerEntry
from app.relationships.models import Relationship
from app.reminders.models import Reminder

_PERSONAL_FIELDS = (
    "given_name",
    "family_name",
    "organization",
    "title",
    "timezone",
    "notes",
    "cadence_days",
    "connected_at",
    "last_interaction_at",
    "due_at",
    "archived_at",
)


async def erase_contact(session: AsyncSession, *, contact: Contact) -> None:
    """Erase the person's data for good; the caller has locked the contact row."""
    owner_id, contact_id = contact.owner_id, contact.id
    await _anonymise(session, contact)
    intro_ids = await _introductions_with(session, owner_id=owner_id, contact_id=contact_id)
    await _scrub_entries_from(session, owner_id=owner_id, intro_ids=intro_ids)
    await _delete_introductions(session, owner_id=owner_id, intro_ids=intro_ids)
    await _delete_relationships(session, owner_id=owner_id, contact_id=contact_id)
    # Interactions, reminders and the person's own ledger entries go whole: their notes are
    # about the person. The tombstone keeps the ledger totals, anonymous now (and the row
    # stays, so its foreign keys' cascades never fire).
    models = (
        ContactTag,
        ContactExternalRef,
        ContactIdentifier,
        ContactPhrase,
        ContactToken,
        Interaction,
        LedgerEntry,
        Reminder,
    )
    for model in models:
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
    # Last: it waits for the owner's writes that add tokens to commit (app/contacts/tokens.py).
    await forget_unused_tokens(session, owner_id)


async def _anonymise(session: AsyncSession, contact: Contact) -> None:
    """The row stays as a tombstone, so that ledger totals keep their contact and the id is
    never reused; everything that could identify the person goes."""
    for name in _PERSONAL_FIELDS:
        setattr(contact, name, None)
    contact.display_name = ""
    contact.tags, contact.channels, contact.external_refs = [], [], {}
    contact.needs, contact.offers = [], []
    contact.search_text, contact.channel_uses = "", ","
    contact.trust_stage = TrustStage.acquaintance.value
    contact.erased_at = utcnow()
    bump_version(contact)
    session.add(contact)
    await session.flush()


async def _introductions_with(
    session: AsyncSession, *, owner_id: str, contact_id: str
) -> list[str]:
    """The introductions the person was part of, on either side."""
    return list(
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


async def _scrub_entries_from(
    session: AsyncSession, *, owner_id: str, intro_ids: list[str]
) -> None:
    """The ledger entries those introductions wrote lose their notes, in the rows and in
    their `ledger_entry.created` events.

    The ledger is append-only by design: entries are never changed, mistakes are reversed.
    Scrubbing personal data for erasure is the one sanctioned exception, and it touches the
    note only. The entries themselves stay: a deposit credited to the other party (the
    requester's on making the introduction, the target's on a valuable outcome) is that
    person's goodwill, and their balance is derived from it. Its note does not stay: it was
    written about the introduction, so about the erased person too (a make note typically
    says how the target was reached: their email). The erased person's own entries are
    deleted with the rest of their rows. Reversals carry their original's
    `introduction_id` (`ledger.service.reverse_entry`), so they are found here as well."""
    if not intro_ids:
        return
    entry_ids = list(
        (
            await session.exec(
                select(LedgerEntry.id).where(
                    LedgerEntry.owner_id == owner_id,
                    col(LedgerEntry.introduction_id).in_(intro_ids),
                )
            )
        ).all()
    )
    if not entry_ids:
        return
    await session.exec(
        update(LedgerEntry)
        .where(LedgerEntry.owner_id == owner_id, col(LedgerEntry.id).in_(entry_ids))
        .values(note=None)
    )
    await scrub_event_fields(
        session,
        owner_id=owner_id,
        resource="ledger_entry",
        resource_ids=entry_ids,
        fields={"note": None},
    )
    # Stored responses that held these entries (a reversal's, say) are forgotten with the
    # introduction's: every entry read carries its `introduction_id`.


async def _delete_introductions(
    session: AsyncSession, *, owner_id: str, intro_ids: list[str]
) -> None:
    """Introductions go whole, with their timelines (reason, evidence, notes: all about the
    two people), and so do their change-feed events and stored responses."""
    if not intro_ids:
        return
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


async def _delete_relationships(session: AsyncSession, *, owner_id: str, contact_id: str) -> None:
    """The person's relationships go whole (their notes are about the two people), and so do
    their change-feed events, those of relationships deleted earlier too. An event names
    only one contact in its `contact_id` column, so they are found by the ids their payloads
    carry (`contact_ids`): a scan of the owner's relationship events, which erasure alone
    makes."""
    await session.exec(
        delete(Relationship).where(
            Relationship.owner_id == owner_id,
            or_(Relationship.contact_a_id == contact_id, Relationship.contact_b_id == contact_id),
        )
    )
    mentioned = (
        await session.exec(
            select(Event.resource_id)
            .where(
                Event.owner_id == owner_id,
                Event.resource == "relationship",
                cast(Event.data, Text).contains(contact_id, autoescape=True),
            )
            .distinct()
        )
    ).all()
    ids = sorted(set(mentioned))
    if ids:
        await scrub_resource_events(
            session, owner_id=owner_id, resource="relationship", resource_ids=ids
        )
