"""Every table, imported in one place so that Alembic sees one metadata."""

from sqlmodel import SQLModel

from app.agenda.models import AgendaItemState
from app.auth.models import ApiKey, Owner
from app.calendar.models import CalendarFeed
from app.contacts.models import (
    Contact,
    ContactExternalRef,
    ContactIdentifier,
    ContactPhrase,
    ContactTag,
    ContactToken,
    OwnerToken,
)
from app.core.idempotency import IdempotencyRecord
from app.core.outbox import Event
from app.core.signing import ServerSecret
from app.events.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.interactions.models import Interaction
from app.introductions.models import Introduction, IntroductionEvent
from app.ledger.models import LedgerEntry
from app.relationships.models import Relationship
from app.reminders.models import Reminder
from app.settings.models import OwnerSettings

metadata = SQLModel.metadata

# Indexes that only a migration manages, because SQLAlchemy's metadata cannot say "on
# PostgreSQL only": the trigram index behind `GET /v1/contacts?q=` (0006, then 0010 without
# owner_id), the covering index its id-ordered pages read (0012) and the trigram index of
# the owners' token vocabularies (0017; since 0020 two partial ones, the runs' and the
# words' holding an `@`). Autogenerate and the drift test leave them alone.
MIGRATION_ONLY_INDEXES = frozenset(
    {
        "ix_contact_owner_id_search_text_trgm",
        "ix_contact_search_text_trgm",
        "ix_contact_owner_id_id_search_text",
        "ix_owner_token_owner_id_token_trgm",
        "ix_owner_token_owner_id_address_trgm",
    }
)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


__all__ = [
    "MIGRATION_ONLY_INDEXES",
    "AgendaItemState",
    "ApiKey",
    "CalendarFeed",
    "Contact",
    "ContactExternalRef",
    "ContactIdentifier",
    "ContactPhrase",
    "ContactTag",
    "ContactToken",
    "Event",
    "IdempotencyRecord",
    "Interaction",
    "Introduction",
    "IntroductionEvent",
    "LedgerEntry",
    "Owner",
    "OwnerSettings",
    "OwnerToken",
    "Relationship",
    "Reminder",
    "ServerSecret",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "include_object",
    "metadata",
]
