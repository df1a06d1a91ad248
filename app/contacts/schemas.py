from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.contacts.models import fold_phrase
from app.core.reciprocity import Reciprocity
from app.core.schemas import (
    Id,
    InputModel,
    PastTimestamp,
    TimeZone,
    bounded,
    bounded_int,
    strict_int,
    trimmed,
)


class TrustStage(StrEnum):
    stranger = "stranger"
    acquaintance = "acquaintance"
    known = "known"
    liked = "liked"
    trusted = "trusted"


class ChannelType(StrEnum):
    email = "email"
    phone = "phone"
    linkedin = "linkedin"
    twitter = "twitter"
    website = "website"
    other = "other"


class ChannelUse(StrEnum):
    personal = "personal"
    introductions = "introductions"
    marketing = "marketing"


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


Text = trimmed(200)
DisplayName = trimmed(200, required=True)
PartName = trimmed(100)
CadenceDays = strict_int(ge=1, le=3650, description="Keep-in-touch interval in days.")
Tag = trimmed(64, required=True)
Tags = Annotated[list[Tag], Field(max_length=50), AfterValidator(_unique)]
PHRASE_MAX_LENGTH = 200
MAX_PHRASES = 20


def _fits_folded(value: str) -> str:
    # Folding can lengthen a phrase (`ß` is `ss`); what is matched must fit its column too.
    if len(fold_phrase(value)) > PHRASE_MAX_LENGTH:
        raise ValueError(f"must be at most {PHRASE_MAX_LENGTH} characters once case-folded")
    return value


Phrase = Annotated[trimmed(PHRASE_MAX_LENGTH, required=True), AfterValidator(_fits_folded)]
Phrases = Annotated[
    list[Phrase],
    Field(
        max_length=MAX_PHRASES,
        description='Short phrases such as "seed funding", kept as written (trimmed) and '
        "matched trimmed and case-folded.",
    ),
    AfterValidator(_unique),
]
Notes = Annotated[str, StringConstraints(max_length=10_000)]
SystemName = trimmed(64, required=True, pattern=r"^[^:]+$")
ExternalId = trimmed(200, required=True)
ExternalRefs = Annotated[
    dict[SystemName, ExternalId],
    Field(max_length=20, description="CRM ids by system; unique per owner and system."),
]


class Channel(InputModel):
    type: ChannelType
    value: trimmed(320, required=True)  # type: ignore[valid-type]
    permitted_uses: Annotated[
        list[ChannelUse], Field(max_length=len(ChannelUse)), AfterValidator(_unique)
    ] = Field(default_factory=list, description="What this channel may be used for.")

    @model_validator(mode="after")
    def _valid_email(self) -> "Channel":
        if self.type == ChannelType.email:
            try:
                checked = validate_email(self.value, check_deliverability=False)
            except EmailNotValidError as exc:
                raise ValueError(f"not a valid email address: {exc}") from None
            self.value = checked.normalized
        return self


Channels = Annotated[list[Channel], Field(max_length=50)]
ConnectedAt = Annotated[
    PastTimestamp,
    Field(description="When the owner and the contact first connected; not in the future."),
]


class ChannelRead(BaseModel):
    type: ChannelType
    value: bounded(320)  # type: ignore[valid-type]
    permitted_uses: Annotated[list[ChannelUse], Field(max_length=len(ChannelUse))]


class ContactCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "display_name": "Ada Lovelace",
                    "organization": "Analytical Engines Ltd",
                    "timezone": "Europe/London",
                    "trust_stage": "known",
                    "cadence_days": 30,
                    "tags": ["math"],
                    "channels": [
                        {
                            "type": "email",
                            "value": "ada@example.com",
                            "permitted_uses": ["personal", "introductions"],
                        }
                    ],
                    "external_refs": {"hubspot": "123"},
                }
            ]
        }
    )

    display_name: DisplayName
    given_name: PartName | None = None
    family_name: PartName | None = None
    organization: Text | None = None
    title: Text | None = None
    timezone: TimeZone | None = None
    trust_stage: TrustStage = TrustStage.acquaintance
    cadence_days: CadenceDays | None = None
    tags: Tags = Field(default_factory=list)
    notes: Notes | None = None
    channels: Channels = Field(default_factory=list)
    external_refs: ExternalRefs = Field(default_factory=dict)
    needs: Phrases = Field(default_factory=list)
    offers: Phrases = Field(default_factory=list)
    connected_at: ConnectedAt | None = None


class ContactUpdate(InputModel):
    """Fields sent are set (null clears them); fields left out are unchanged."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Countess of Lovelace", "cadence_days": 14}]}
    )

    display_name: DisplayName | None = None
    given_name: PartName | None = None
    family_name: PartName | None = None
    organization: Text | None = None
    title: Text | None = None
    timezone: TimeZone | None = None
    trust_stage: TrustStage | None = None
    cadence_days: CadenceDays | None = None
    tags: Tags | None = None
    notes: Notes | None = None
    channels: Channels | None = None
    external_refs: ExternalRefs | None = None
    needs: Phrases | None = None
    offers: Phrases | None = None
    connected_at: ConnectedAt | None = None

    @field_validator(
        "display_name", "trust_stage", "tags", "channels", "external_refs", "needs", "offers"
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be changed but not cleared")
        return value


class ContactRestore(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


# The bounds of what a contact's fields hold: those of the fields they are sent in.
class ContactRead(BaseModel):
    id: Id
    display_name: bounded(200)  # type: ignore[valid-type]
    given_name: bounded(100) | None  # type: ignore[valid-type]
    family_name: bounded(100) | None  # type: ignore[valid-type]
    organization: bounded(200) | None  # type: ignore[valid-type]
    title: bounded(200) | None  # type: ignore[valid-type]
    timezone: bounded(64) | None  # type: ignore[valid-type]
    trust_stage: TrustStage
    cadence_days: bounded_int(1, 3650) | None  # type: ignore[valid-type]
    tags: Annotated[list[bounded(64)], Field(max_length=50)]  # type: ignore[valid-type]
    notes: bounded(10_000) | None  # type: ignore[valid-type]
    channels: Annotated[list[ChannelRead], Field(max_length=50)]
    external_refs: Annotated[dict[bounded(64), bounded(200)], Field(max_length=20)]  # type: ignore[valid-type]
    needs: Annotated[list[bounded(PHRASE_MAX_LENGTH)], Field(max_length=MAX_PHRASES)]  # type: ignore[valid-type]
    offers: Annotated[list[bounded(PHRASE_MAX_LENGTH)], Field(max_length=MAX_PHRASES)]  # type: ignore[valid-type]
    connected_at: datetime | None
    last_interaction_at: datetime | None
    next_touch_due_at: datetime | None = Field(
        description="When a touch is due: `cadence_days` after the last interaction, or "
        "after `connected_at` (else `created_at`) when there is none; null without a cadence."
    )
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    reciprocity: Reciprocity = Field(
        description="The ledger balance and flags (for a favour of weight 1); "
        "GET /v1/contacts/{id}/reciprocity answers for other weights."
    )


class ContactSort(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    goodwill = "goodwill"
    goodwill_desc = "-goodwill"
    last_interaction_at = "last_interaction_at"
    last_interaction_at_desc = "-last_interaction_at"
    display_name = "display_name"
    display_name_desc = "-display_name"
