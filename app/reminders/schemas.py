from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.core.schemas import Id, InputModel, Timestamp, bounded

Note = Annotated[str, StringConstraints(max_length=2_000)]


class ReminderCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contact_id": "ct_01kbw2g4v7s3m5x8y9z0a1b2c3",
                    "due_at": "2026-12-12T09:00:00Z",
                    "note": "Call Ada after her launch.",
                }
            ]
        }
    )

    contact_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    # Past or future: a plan made late is still due.
    due_at: Timestamp
    note: Note | None = None


class ReminderUpdate(InputModel):
    """The fields sent are set (a null `note` clears it), the others kept. The contact is
    the reminder's for good: a reminder for someone else is a new one."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"due_at": "2026-12-14T09:00:00Z", "note": None}]}
    )

    due_at: Timestamp | None = None
    note: Note | None = None

    @field_validator("due_at")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be changed but not cleared")
        return value


class ReminderDone(InputModel):
    """`POST /v1/reminders/{id}/done` takes an empty object: when is now."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class ReminderRead(BaseModel):
    id: Id
    contact_id: Id
    due_at: datetime
    note: bounded(2_000) | None  # type: ignore[valid-type]
    done_at: datetime | None = Field(description="When it was marked done; null while open.")
    created_at: datetime
    updated_at: datetime
