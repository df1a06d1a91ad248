from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.schemas import Id, InputModel, PastTimestamp, bounded, strict_int


class Direction(StrEnum):
    gave = "gave"
    received = "received"


class EntryKind(StrEnum):
    introduction = "introduction"
    referral = "referral"
    advice = "advice"
    endorsement = "endorsement"
    share = "share"
    thanks = "thanks"
    gift = "gift"
    favor = "favor"
    time = "time"
    other = "other"


Note = Annotated[str, StringConstraints(max_length=2_000)]


class LedgerEntryCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contact_id": "ct_01kbw2g4v7s3m5x8y9z0a1b2c3",
                    "direction": "gave",
                    "kind": "advice",
                    "weight": 2,
                    "note": "Reviewed the pitch deck.",
                }
            ]
        }
    )

    contact_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    direction: Direction = Field(description="`gave` is a deposit, `received` a withdrawal.")
    kind: EntryKind
    weight: strict_int(ge=1, le=5)  # type: ignore[valid-type]
    occurred_at: PastTimestamp | None = None
    note: Note | None = None


class ReversalCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "Logged twice."}]})

    note: Note | None = None


class LedgerEntryRead(BaseModel):
    id: Id
    contact_id: Id
    direction: Direction
    kind: EntryKind
    weight: int = Field(
        ge=-5, le=5, description="1-5; a reversal carries the negated weight it cancels."
    )
    occurred_at: datetime
    note: bounded(2_000) | None  # type: ignore[valid-type]
    reverses_id: Id | None = Field(description="For a reversal, the entry it cancels.")
    reversed_by_id: Id | None = Field(description="The reversal that cancels this entry.")
    introduction_id: Id | None = Field(
        description="The introduction whose making (or valued outcome) wrote this deposit."
    )
    created_at: datetime
