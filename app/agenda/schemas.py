"""The agenda as clients see it (API.md, "Agenda and reminders")."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Id, InputModel, Timestamp, bounded


class AgendaKind(StrEnum):
    reminder = "reminder"
    touch_overdue = "touch_overdue"
    follow_up = "follow_up"
    thanks_owed = "thanks_owed"
    consent_expiring = "consent_expiring"
    ready_to_make = "ready_to_make"
    rebalance = "rebalance"
    # An introduction the owner could offer: a suggestion (GET /v1/suggestions).
    give = "give"


class SubjectType(StrEnum):
    contact = "contact"
    introduction = "introduction"
    ledger_entry = "ledger_entry"
    reminder = "reminder"


class SuggestedAction(StrEnum):
    log_interaction = "log_interaction"
    give_feedback = "give_feedback"
    send_thanks = "send_thanks"
    make_deposit = "make_deposit"
    make_introduction = "make_introduction"
    reissue_consent = "reissue_consent"
    complete_reminder = "complete_reminder"
    offer_introduction = "offer_introduction"


class AgendaContact(BaseModel):
    id: Id
    display_name: bounded(200)  # type: ignore[valid-type]


class AgendaSubject(BaseModel):
    type: SubjectType
    id: Id


class AgendaItem(BaseModel):
    id: Id = Field(
        description="The same for the same reason on the same subject and occurrence; "
        "snooze and dismiss name it."
    )
    kind: AgendaKind
    due_at: datetime = Field(description="When the item became (or becomes) due.")
    contact: AgendaContact
    subject: AgendaSubject
    reason: bounded(1000) = Field(  # type: ignore[valid-type]
        description="A sentence a person can read aloud."
    )
    suggested_action: SuggestedAction


class SnoozeBody(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"until": "2026-12-14T09:00:00Z"}]})

    until: Timestamp = Field(description="Hide the item until then; must be in the future.")


class DismissBody(InputModel):
    """Nothing to send: the item is hidden for good."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class AgendaItemHidden(BaseModel):
    """A snoozed or dismissed item."""

    id: Id
    until: datetime | None = Field(description="Hidden until then; null: dismissed for good.")
