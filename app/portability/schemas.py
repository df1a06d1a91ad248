from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from app.auth.schemas import ApiKeyRead
from app.contacts.schemas import ContactRead
from app.core.errors import FIELD_ERRORS_MAX, FieldError
from app.core.schemas import Id, InputModel, bounded
from app.interactions.schemas import InteractionRead
from app.introductions.schemas import IntroductionRead, TimelineEventRead
from app.ledger.schemas import LedgerEntryRead
from app.relationships.schemas import RelationshipRead
from app.reminders.schemas import ReminderRead
from app.settings.schemas import SettingsRead


class ImportFormat(StrEnum):
    linkedin_csv = "linkedin_csv"
    google_csv = "google_csv"
    vcard = "vcard"


def _known_region(value: str) -> str:
    region = value.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("must be an ISO 3166 country code with a numbering plan, such as GB")
    return region


Region = Annotated[
    str, StringConstraints(min_length=2, max_length=2), AfterValidator(_known_region)
]


class RowStatus(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    rejected = "rejected"


# Records one import request may hold (more: 413).
MAX_RECORDS = 25_000
_Count = Annotated[int, Field(ge=0, le=MAX_RECORDS)]


class ImportRow(BaseModel):
    row: int = Field(
        ge=1,
        le=MAX_RECORDS,
        description="Position of the record in the file, from 1: the n-th data row of a CSV "
        "(after its header), the n-th card of a vCard file.",
    )
    status: RowStatus
    contact_id: Id | None = Field(
        description="The contact created, updated or matched; null when rejected, and for "
        "`created` in a dry run."
    )
    errors: list[FieldError] = Field(
        max_length=FIELD_ERRORS_MAX,
        description="The problems found, each naming the column, property or field: on a "
        "rejected row, why it was rejected (no usable name, or unreadable); on any other, the "
        "values left out as invalid (an email that is none, say), the rest imported.",
    )


class ImportSummary(BaseModel):
    format: ImportFormat
    dry_run: bool
    created: _Count
    updated: _Count
    unchanged: _Count
    rejected: _Count
    rows: list[ImportRow] = Field(max_length=MAX_RECORDS)


class OwnerExport(BaseModel):
    id: Id
    email: bounded(320)  # type: ignore[valid-type]
    name: bounded(200) | None  # type: ignore[valid-type]
    created_at: datetime


class IntroductionExport(IntroductionRead):
    timeline: list[TimelineEventRead]


class ExportDocument(BaseModel):
    """The shape of `GET /v1/export`. It is streamed in this key order, so a client can parse
    it incrementally."""

    format: Literal["goodwill-export"]
    version: Literal[1]
    exported_at: datetime
    owner: OwnerExport
    settings: SettingsRead
    api_keys: list[ApiKeyRead] = Field(description="Metadata only; secrets are never stored.")
    contacts: list[ContactRead] = Field(description="Archived ones included, erased ones not.")
    interactions: list[InteractionRead]
    ledger_entries: list[LedgerEntryRead]
    introductions: list[IntroductionExport]
    reminders: list[ReminderRead] = Field(description="Done ones included.")
    relationships: list[RelationshipRead]


# Items one `POST /v1/contacts/batch` may hold (more: 422): a CRM's page of records, written
# in the request's one transaction.
MAX_BATCH_ITEMS = 500
# Each item is validated on its own, so that a bad one is a `rejected` result, not a 422 of
# the whole batch: the document says so, rather than give it a schema it would answer a
# request breaking with 200.
BatchItem = Annotated[
    Any,
    WithJsonSchema(
        {
            "description": "A contact body, as `POST /v1/contacts` takes it (`ContactCreate`). "
            "Each item is validated on its own: one that is not a valid contact body is "
            "answered `rejected` with its `errors`, and the others are still written."
        }
    ),
]


class ContactBatch(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "display_name": "Ada Lovelace",
                            "channels": [{"type": "email", "value": "ada@example.com"}],
                            "external_refs": {"hubspot": "123"},
                        }
                    ]
                }
            ]
        },
    )

    items: list[BatchItem] = Field(
        max_length=MAX_BATCH_ITEMS,
        description="Contact bodies, as `POST /v1/contacts` takes them; each is upserted by "
        "external reference, then by email.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """Not InputModel's check of the whole body, which would refuse the batch for one
        item: each item's own validation (a ContactCreate) rejects a NUL in it alone, and
        a NUL anywhere else is in an unknown field's name, refused anyway."""
        return data


class BatchResult(BaseModel):
    index: int = Field(ge=0, lt=MAX_BATCH_ITEMS, description="The item's position, from 0.")
    status: RowStatus
    id: Id | None = Field(
        description="The contact created, updated or matched; null when rejected."
    )
    errors: list[FieldError] = Field(
        max_length=FIELD_ERRORS_MAX,
        description="Why the item was rejected: the field, as in a problem's `errors`.",
    )


class BatchResults(BaseModel):
    results: list[BatchResult] = Field(max_length=MAX_BATCH_ITEMS)
