from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from app.core.schemas import InputModel, strict_int, trimmed
from app.introductions.workflow import State

LongText = trimmed(2_000)


class Outcome(StrEnum):
    connected = "connected"
    not_contacted = "not_contacted"
    not_useful = "not_useful"
    valuable = "valuable"


class Side(StrEnum):
    requester = "requester"
    target = "target"


class Decision(StrEnum):
    accept = "accept"
    decline = "decline"


class IntroductionCreate(InputModel):
    requester_id: trimmed(200, required=True)  # type: ignore[valid-type]
    target_id: trimmed(200, required=True)  # type: ignore[valid-type]
    reason: trimmed(2_000, required=True) = Field(  # type: ignore[valid-type]
        description="What the requester needs from the target."
    )
    benefit_to_target: LongText | None = Field(  # type: ignore[valid-type]
        default=None, description="Why the target would want this; needed to ask for consent."
    )
    offer: LongText | None = Field(  # type: ignore[valid-type]
        default=None, description="What the requester offers in return."
    )


class IntroductionUpdate(InputModel):
    """Only while `requested`. Fields sent are set; fields left out are unchanged."""

    reason: trimmed(2_000, required=True) | None = None  # type: ignore[valid-type]
    benefit_to_target: LongText | None = None  # type: ignore[valid-type]
    offer: LongText | None = None  # type: ignore[valid-type]

    @field_validator("reason")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("may be changed but not cleared")
        return value


class ConsentRequestCreate(InputModel):
    pass


class ConsentRecord(InputModel):
    decision: Decision
    evidence: trimmed(2_000, required=True) = Field(  # type: ignore[valid-type]
        description="How the target answered, e.g. 'Phone call on 3 March, said yes'."
    )


class MakeCreate(InputModel):
    note: LongText | None = None  # type: ignore[valid-type]
    weight: strict_int(ge=1, le=5) = Field(  # type: ignore[valid-type]
        default=3, description="Weight of the deposit written for the requester."
    )


class FeedbackCreate(InputModel):
    from_: Side = Field(alias="from")
    outcome: Outcome
    note: LongText | None = None  # type: ignore[valid-type]


class WithdrawCreate(InputModel):
    reason: LongText | None = None  # type: ignore[valid-type]


class FeedbackRead(BaseModel):
    outcome: Outcome
    at: datetime


class IntroductionRead(BaseModel):
    id: str
    requester_id: str
    target_id: str
    state: State
    reason: str
    benefit_to_target: str | None
    offer: str | None
    consent_url: str | None = Field(
        default=None,
        description="The single-use link for the target; only in the consent-request answer.",
    )
    consent_requested_at: datetime | None
    consent_expires_at: datetime | None
    decided_via: str | None = Field(description="`link` or `owner`, once the target answered.")
    decided_at: datetime | None
    evidence: str | None
    target_message: str | None = Field(description="What the target wrote on the consent page.")
    made_at: datetime | None
    feedback: dict[Side, FeedbackRead | None]
    needs_follow_up: bool = Field(description="Made, and no feedback after the owner's delay.")
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TimelineEventRead(BaseModel):
    id: str
    occurred_at: datetime
    actor: str = Field(description="owner, target or system.")
    action: str
    from_state: State | None
    to_state: State
    note: str | None
    data: dict
