"""Every table, imported in one place so that Alembic sees one metadata."""

from sqlmodel import SQLModel

from app.auth.models import ApiKey, Owner
from app.contacts.models import Contact, ContactExternalRef, ContactIdentifier, ContactTag
from app.core.idempotency import IdempotencyRecord
from app.events.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.interactions.models import Interaction
from app.introductions.models import Introduction, IntroductionEvent
from app.ledger.models import LedgerEntry
from app.settings.models import OwnerSettings

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "Contact",
    "ContactExternalRef",
    "ContactIdentifier",
    "ContactTag",
    "Event",
    "IdempotencyRecord",
    "Interaction",
    "Introduction",
    "IntroductionEvent",
    "LedgerEntry",
    "Owner",
    "OwnerSettings",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "metadata",
]
