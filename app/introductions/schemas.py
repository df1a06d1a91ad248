from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.schemas import Id, InputModel, bounded, strict_int, trimmed
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


class IntroductionFlag(StrEnum):
    outcomes_disagree = "outcomes_disagree"


class Decision(StrEnum):
    accept = "accept"
    decline = "decline"


class IntroductionCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "requester_id": "ct_01kbw2g4v7s3m5x8y9z0a1b2c3",
                    "target_id": "ct_01kbw2h6q8r1t4v7w0x3y6z9a2",
                    "reason": "Wants advice on raising a seed round.",
                    "benefit_to_target": "A founder in her field to invest in.",
                    "offer": "An intro to two design partners.",
                }
            ]
        }
    )

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

    model_config = ConfigDict(json_schema_extra={"examples": [{"offer": "Lunch, on me."}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class ConsentRecord(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"decision": "accept", "evidence": "Phone call on 3 March, said yes."}]
        }
    )

    decision: Decision
    evidence: trimmed(2_000, required=True) = Field(  # type: ignore[valid-type]
        description="How the target answered, e.g. 'Phone call on 3 March, said yes'."
    )


class MakeCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "Sent a joint email.", "weight": 3}]}
    )

    note: LongText | None = None  # type: ignore[valid-type]
    weight: strict_int(ge=1, le=5) = Field(  # type: ignore[valid-type]
        default=3, description="Weight of the deposit written for the requester."
    )


class FeedbackCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"from": "requester", "outcome": "valuable", "note": "They met twice."}]
        }
    )

    from_: Side = Field(alias="from")
    outcome: Outcome
    note: LongText | None = None  # type: ignore[valid-type]


class WithdrawCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Found help elsewhere."}]})

    reason: LongText | None = None  # type: ignore[valid-type]


class IntroductionRead(BaseModel):
    id: Id
    requester_id: Id
    target_id: Id
    state: State
    reason: bounded(2_000)  # type: ignore[valid-type]
    benefit_to_target: bounded(2_000) | None  # type: ignore[valid-type]
    offer: bounded(2_000) | None  # type: ignore[valid-type]
    # GOODWILL_PUBLIC_BASE_URL (at most 1,024 characters) or the request's own, and a token.
    consent_url: bounded(2_048) | None = Field(  # type: ignore[valid-type]
        default=None,
        description="The single-use link for the target; only in the consent-request answer.",
    )
    consent_requested_at: datetime | None
    consent_expires_at: datetime | None
    decided_via: bounded(16) | None = Field(  # type: ignore[valid-type]
        description="`link` or `owner`, once the target answered."
    )
    decided_at: datetime | None
    evidence: bounded(2_000) | None  # type: ignore[valid-type]
    target_message: bounded(1_000) | None = Field(  # type: ignore[valid-type]
        description="What the target wrote on the consent page."
    )
    made_at: datetime | None
    feedback: dict[Side, Outcome | None] = Field(
        max_length=len(Side),
        description="Each side's outcome, or null while it has not answered.",
    )
    feedback_at: dict[Side, datetime | None] = Field(
        max_length=len(Side), description="When each side answered, or null."
    )
    needs_follow_up: bool = Field(
        description="Made, and a side has given no feedback after the owner's delay "
        "(`follow_up_due_from` is not empty)."
    )
    follow_up_due_from: list[Side] = Field(
        max_length=len(Side),
        description="The sides still to give feedback once `follow_up_after_days` have "
        "passed since `made_at`; empty before then and once both answered.",
    )
    flags: list[IntroductionFlag] = Field(
        max_length=len(IntroductionFlag),
        description="`outcomes_disagree`: one side said `connected` or `valuable`, the other "
        "`not_contacted`.",
    )
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TimelineEventRead(BaseModel):
    id: Id
    occurred_at: datetime
    actor: bounded(16) = Field(description="owner, target or system.")  # type: ignore[valid-type]
    action: bounded(32)  # type: ignore[valid-type]
    from_state: State | None
    to_state: State
    # What the owner wrote with the step (at most 2,000 characters), or the target on the
    # consent page (1,000).
    note: bounded(2_000) | None  # type: ignore[valid-type]
    data: dict
