"""The base of every request body."""

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)


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


def _trim_required(value: str) -> str:
    value = value.strip()
    if not value:
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


def _rfc3339_text(value: Any) -> Any:
    # Pydantic would also take numbers (and digit strings) as Unix times; the contract says
    # RFC 3339.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-11-22T09:30:00Z")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]


def strict_int(**constraints: Any) -> Any:
    """An integer in a JSON body: `true` and `"5"` are not numbers."""
    return Annotated[int, Strict(), Field(**constraints)]
