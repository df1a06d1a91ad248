from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from app.core.schemas import Id, InputModel, PastTimestamp, bounded


class InteractionKind(StrEnum):
    meeting = "meeting"
    call = "call"
    message = "message"
    coffee = "coffee"
    event = "event"
    other = "other"


class Initiator(StrEnum):
    me = "me"
    them = "them"


class InteractionCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "coffee",
                    "occurred_at": "2026-11-20T09:30:00Z",
                    "summary": "Talked about the engine.",
                    "initiated_by": "them",
                }
            ]
        }
    )

    kind: InteractionKind
    occurred_at: PastTimestamp | None = None
    summary: Annotated[str, StringConstraints(max_length=5_000)] | None = None
    initiated_by: Initiator = Initiator.me


class InteractionUpdate(InputModel):
    """A correction: the fields sent are set (a null `summary` clears it), the others kept,
    under the same rules as when logged."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "call", "occurred_at": "2026-11-19T17:00:00Z"}]}
    )

    kind: InteractionKind | None = None
    occurred_at: PastTimestamp | None = None
    summary: Annotated[str, StringConstraints(max_length=5_000)] | None = None
    initiated_by: Initiator | None = None

    @field_validator("kind", "occurred_at", "initiated_by")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be changed but not cleared")
        return value


class InteractionRead(BaseModel):
    id: Id
    contact_id: Id
    kind: InteractionKind
    occurred_at: datetime
    summary: bounded(5_000) | None  # type: ignore[valid-type]
    initiated_by: Initiator
    created_at: datetime
