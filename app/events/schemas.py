"""The change feed and webhook subscriptions, as clients send and see them."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from app.core.pagination import CURSOR_MAX_LENGTH, MAX_LIMIT
from app.core.schemas import Id, InputModel, bounded, strict_int, trimmed
from app.events.targets import TargetRefused, parse_target

# Every event type the service records (API.md, "Events and webhooks").
EVENT_TYPES = frozenset(
    {
        "contact.created",
        "contact.updated",
        "contact.archived",
        "contact.restored",
        "contact.erased",
        "interaction.created",
        "interaction.updated",
        "interaction.deleted",
        "ledger_entry.created",
        "introduction.requested",
        "introduction.updated",
        "introduction.consent_requested",
        "introduction.consented",
        "introduction.declined",
        "introduction.made",
        "introduction.completed",
        "introduction.withdrawn",
        "introduction.expired",
        "introduction.feedback_received",
        "reminder.created",
        "reminder.updated",
        "reminder.deleted",
        "reminder.done",
        "relationship.created",
        "relationship.updated",
        "relationship.deleted",
        "api_key.created",
        "api_key.revoked",
        "calendar_feed.created",
        "calendar_feed.deleted",
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
        "agenda_item.snoozed",
        "agenda_item.dismissed",
    }
)
RESOURCES = frozenset(t.split(".", 1)[0] for t in EVENT_TYPES)
# Sent by `POST /v1/webhooks/{id}/test` to that one subscription, whatever its `events`; it
# is not a change to the owner's data, so never in the feed nor a type to subscribe to.
TEST_EVENT_TYPE = "webhook.test"


class EventRead(BaseModel):
    """One change. `data` is the resource as it was right after the change; `{"erased":
    true}` once the contact it was about has been erased."""

    id: Id
    type: bounded(64)  # type: ignore[valid-type]
    resource: bounded(32)  # type: ignore[valid-type]
    resource_id: Id
    occurred_at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    data: list[EventRead] = Field(max_length=MAX_LIMIT)
    next_cursor: bounded(CURSOR_MAX_LENGTH) = Field(  # type: ignore[valid-type]
        description="Pass as `after` to continue. Present on the last page too, so a client "
        "can poll from it for what happens next."
    )


def _known_pattern(value: str) -> str:
    if value == "*" or value in EVENT_TYPES:
        return value
    resource, _, rest = value.partition(".")
    if rest == "*" and resource in RESOURCES:
        return value
    raise ValueError(
        "not a known event type, `<resource>.*` or `*`; resources are "
        + ", ".join(sorted(RESOURCES))
    )


EventPattern = Annotated[
    str,
    StringConstraints(max_length=64, pattern=r"^(\*|[a-z_]+\.(\*|[a-z_]+))$"),
    AfterValidator(_known_pattern),
]


def _feed_filter(value: str) -> str:
    if value == "*":
        raise ValueError("`*` is every type: leave `type` out for the whole feed")
    return _known_pattern(value)


# What `GET /v1/events?type=` takes: a type or a resource's types, never `*` alone.
EventTypeFilter = Annotated[
    str,
    StringConstraints(max_length=64, pattern=r"^(\*|[a-z_]+\.(\*|[a-z_]+))$"),
    AfterValidator(_feed_filter),
]
MAX_TYPE_FILTERS = 20


def _http_url(value: str) -> str:
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if "@" in parts.netloc:
        raise ValueError("must not contain credentials")
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number 0-65535)
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    try:
        parse_target(value)
    except TargetRefused as exc:
        raise ValueError(str(exc)) from exc
    return value


WebhookUrl = Annotated[
    str, StringConstraints(max_length=2048, pattern=r"^https?://"), AfterValidator(_http_url)
]


class WebhookStatus(StrEnum):
    active = "active"
    disabled = "disabled"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class WebhookCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/goodwill",
                    "events": ["contact.*", "introduction.made"],
                    "description": "CRM sync",
                }
            ]
        }
    )

    url: WebhookUrl = Field(
        description="Where events are POSTed: http or https, no credentials; the host must "
        "resolve to public addresses (unless GOODWILL_WEBHOOK_ALLOW_PRIVATE)."
    )
    events: list[EventPattern] = Field(
        min_length=1,
        max_length=50,
        description="Event types (`contact.created`), a resource's types (`introduction.*`) "
        "or `*` for everything.",
    )
    description: trimmed(200) | None = None  # type: ignore[valid-type]


class WebhookUpdate(InputModel):
    """Fields sent are set; fields left out are unchanged. The secret stays as it is (see
    `rotate-secret`)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"events": ["contact.*", "webhook.*"], "enabled": True}]}
    )

    url: WebhookUrl | None = Field(
        default=None, description="Checked as at creation: public addresses only."
    )
    events: list[EventPattern] | None = Field(default=None, min_length=1, max_length=50)
    enabled: bool | None = Field(
        default=None,
        description="false stops deliveries (status `disabled`); true resumes them, with the "
        "events that happened meanwhile.",
    )
    description: trimmed(200) | None = Field(  # type: ignore[valid-type]
        default=None, description="null clears it."
    )

    @field_validator("url", "events", "enabled")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be changed but not cleared")
        return value


class WebhookAction(InputModel):
    """The body of an action that takes none: `{}`, or no body at all."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class SecretRotate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"previous_secret_valid_seconds": 3600}]}
    )

    previous_secret_valid_seconds: strict_int(ge=0, le=7 * 24 * 3600) | None = Field(  # type: ignore[valid-type]
        default=None,
        description="How long deliveries are also signed with the old secret (default "
        "GOODWILL_WEBHOOK_SECRET_GRACE_HOURS, 24 h); 0 drops it at once.",
    )


class WebhookEnable(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


class WebhookRead(BaseModel):
    id: Id
    url: bounded(2048)  # type: ignore[valid-type]
    description: bounded(200) | None  # type: ignore[valid-type]
    events: list[bounded(64)] = Field(max_length=50)  # type: ignore[valid-type]
    status: WebhookStatus
    # Cut to 500 characters when it is written (app/events/delivery.py).
    disabled_reason: bounded(500) | None = Field(  # type: ignore[valid-type]
        description="Why deliveries stopped, when disabled."
    )
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then, deliveries also carry a signature with the previous secret."
    )
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: bounded(64) = Field(  # type: ignore[valid-type]
        description="The signing secret (`whsec_` + base64). Shown only in this response."
    )


class AttemptRead(BaseModel):
    attempt: int = Field(ge=1, le=8, description="1 for the first try.")
    attempted_at: datetime
    # At most the receiver's timeout (60 s) and the time to connect.
    duration_ms: int = Field(ge=0, le=2**31 - 1)
    # Whatever three digits the receiver's status line had.
    status_code: int | None = Field(
        ge=0, le=999, description="The receiver's HTTP status, if it answered."
    )
    # Cut to 500 characters when it is written (app/events/delivery.py).
    error: bounded(500) | None  # type: ignore[valid-type]
    next_attempt_at: datetime | None = Field(
        description="When this failure is retried; null after a success or the last attempt."
    )


class DeliveryRead(BaseModel):
    id: Id
    event_id: Id
    event_type: bounded(64)  # type: ignore[valid-type]
    status: DeliveryStatus
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[AttemptRead] = Field(max_length=8, description="GOODWILL_WEBHOOK_MAX_ATTEMPTS")
