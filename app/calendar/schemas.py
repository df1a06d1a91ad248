"""Calendar feeds as clients see them (API.md, "Agenda and reminders")."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Id, InputModel, bounded, trimmed

FeedName = trimmed(100, required=True)


class CalendarFeedCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "My phone"}]})

    name: FeedName = Field(description="What the feed is for, to tell feeds apart.")


class CalendarFeedRead(BaseModel):
    id: Id
    name: bounded(100)  # type: ignore[valid-type]
    created_at: datetime


class CalendarFeedCreated(CalendarFeedRead):
    # The public base URL (at most 1,024 characters) and `/calendar/<token>.ics`.
    url: bounded(2048) = Field(  # type: ignore[valid-type]
        description="The feed's secret address, to subscribe to in a calendar app. Anyone "
        "with it can read the calendar, without an API key: shown only in this response; "
        "delete the feed to revoke it."
    )
