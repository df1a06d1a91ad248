from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.core.schemas import InputModel, PastTimestamp, strict_int


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
    contact_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    direction: Direction = Field(description="`gave` is a deposit, `received` a withdrawal.")
    kind: EntryKind
    weight: strict_int(ge=1, le=5)  # type: ignore[valid-type]
    occurred_at: PastTimestamp | None = None
    note: Note | None = None


class ReversalCreate(InputModel):
    note: Note | None = None


class LedgerEntryRead(BaseModel):
    id: str
    contact_id: str
    direction: Direction
    kind: EntryKind
    weight: int = Field(description="1-5; a reversal carries the negated weight it cancels.")
    occurred_at: datetime
    note: str | None
    reverses_id: str | None = Field(description="For a reversal, the entry it cancels.")
    reversed_by_id: str | None = Field(description="The reversal that cancels this entry.")
    introduction_id: str | None = Field(
        description="The introduction whose making (or valued outcome) wrote this deposit."
    )
    created_at: datetime
