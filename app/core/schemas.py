"""The base of every request body."""

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.core.types import utcnow


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class InputModel(BaseModel):
    """Unknown fields are refused (no mass assignment, typos surface), and so is the NUL
    character, which PostgreSQL cannot store in text."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("text must not contain the NUL character")
        return data


def _trim(value: str) -> str:
    return value.strip()


# Letters that show nothing (Hangul and Halfwidth fillers, the blank Braille pattern, the
# combining grapheme joiner), beside the categories that never show: controls, format
# characters (zero-width spaces and joiners, bidi marks, the BOM, the soft hyphen),
# separators, and combining marks with nothing to combine with.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"})


def _visible(char: str) -> bool:
    return char not in _INVISIBLE_LETTERS and unicodedata.category(char) not in (
        _INVISIBLE_CATEGORIES
    )


def _trim_required(value: str) -> str:
    value = value.strip()
    if not any(_visible(char) for char in value):
        raise ValueError("must not be blank")
    return value


def trimmed(max_length: int, *, required: bool = False, pattern: str | None = None) -> Any:
    """Text whose surrounding whitespace is dropped. The length limit applies to what the
    client sent, as the schema says, and only then is it trimmed."""
    return Annotated[
        str,
        StringConstraints(min_length=1 if required else 0, max_length=max_length, pattern=pattern),
        AfterValidator(_trim_required if required else _trim),
    ]


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


# The longest timestamp text taken: nanoseconds and an offset fit with room to spare; past
# it only more digits of a fraction that is cut to microseconds anyway.
TIMESTAMP_MAX_LENGTH = 40


def _rfc3339_text(value: Any) -> Any:
    # Pydantic would also take numbers (and digit strings) as Unix times; the contract says
    # RFC 3339.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-11-22T09:30:00Z")
    if len(value) > TIMESTAMP_MAX_LENGTH:
        raise ValueError(f"must be at most {TIMESTAMP_MAX_LENGTH} characters")
    return value


# Every instant a client may send: wide enough for any real touch or plan, narrow enough that
# converting it to UTC, storing it and adding a cadence to it can never overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    message = "must be between 1900-01-01T00:00:00Z and 2999-12-31T23:59:59Z"
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # the offset takes it past year 1 or 9999
        raise ValueError(message) from None
    if not EARLIEST <= value <= LATEST:
        raise ValueError(message)
    return value


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
    AfterValidator(_in_range),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": TIMESTAMP_MAX_LENGTH}),
]

# How far ahead of ours a client's clock may run (phones' do) before "now" is the future.
CLOCK_SLACK = timedelta(minutes=5)


def _not_future(value: datetime) -> datetime:
    if value - utcnow() > CLOCK_SLACK:
        # A custom error, so that the message is this text alone, with no "Value error, ".
        raise PydanticCustomError("future_timestamp", "must not be in the future")
    return value


# When something happened: a `Timestamp` that is not in the future.
PastTimestamp = Annotated[Timestamp, AfterValidator(_not_future)]


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _iana_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError("must be an IANA time zone name, such as Europe/Berlin")
    return value


# A time zone by its IANA name (a contact's; the owner's "today" for the agenda).
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_iana_zone)]


def strict_int(**constraints: Any) -> Any:
    """An integer in a JSON body: `true` and `"5"` are not numbers."""
    return Annotated[int, Strict(), Field(**constraints)]


# An id the service made: a prefix of up to five letters, `_` and a ULID's 26 characters
# (app/core/types.py, new_id).
ID_MAX_LENGTH = 32


def bounded(max_length: int) -> Any:
    """Text of an answer, at most `max_length` characters: a bound kept by whatever made the
    text (most often the limit of the field it was sent in), declared in the OpenAPI
    document so that a client can rely on it. Answers are not checked against it."""
    return Annotated[str, StringConstraints(max_length=max_length)]


def bounded_int(minimum: int, maximum: int) -> Any:
    """An integer of an answer, within bounds its making keeps; see `bounded`."""
    return Annotated[int, Field(ge=minimum, le=maximum)]


Id = bounded(ID_MAX_LENGTH)
# What a total of integers kept in the database's BIGINT columns can reach.
BIGINT_MAX = 2**63 - 1
