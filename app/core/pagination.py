"""Keyset pagination: `limit`, an opaque `cursor`, and `{"data": [...], "next_cursor"}`.

A cursor carries the sort key of the last row a client saw, so a page is stable under
concurrent inserts and page 1,000 costs what page 1 costs. Cursors are base64url JSON,
validated strictly on the way in: anything malformed or altered is a 400, never a 500.
"""

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from app.core.errors import InvalidCursor

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=200, description="Page size, 1-200.")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page; opaque."),
]


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None


def encode_cursor(kind: str, key: list[Any]) -> str:
    raw = orjson.dumps({"k": kind, "v": [_plain(v) for v in key]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def decode_cursor(cursor: str, kind: str, types: tuple[type, ...]) -> list[Any]:
    """Return the key values, typed as `types` says, or raise InvalidCursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidCursor("The cursor is malformed; start again without it.") from exc
    if (
        not isinstance(payload, dict)
        or payload.get("k") != kind
        or not isinstance(payload.get("v"), list)
        or len(payload["v"]) != len(types)
    ):
        raise InvalidCursor("The cursor does not belong to this list; start again without it.")
    values = []
    for value, typ in zip(payload["v"], types, strict=True):
        values.append(_typed(value, typ))
    return values


def _typed(value: Any, typ: type) -> Any:
    try:
        if typ is datetime:
            if not isinstance(value, str):
                raise ValueError
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError
            return parsed
        if typ is str and isinstance(value, str) and 0 < len(value) <= 200:
            return value
        if typ is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if typ is float and isinstance(value, int | float) and not isinstance(value, bool):
            return value
    except ValueError:
        pass
    raise InvalidCursor("The cursor is malformed; start again without it.")
