"""Keyset pagination: `limit`, an opaque `cursor`, and `{"data": [...], "next_cursor"}`.

A cursor carries the sort key of the last row a client saw, so a page is stable under
concurrent inserts and page 1,000 costs what page 1 costs. Cursors are signed with the
server's secret (app/core/signing.py) for the list and the owner that issued them: a cursor
that is malformed, edited, or issued for another list or owner is a 400, and a value inside
one is only ever one the database gave us.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import ColumnElement, Select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import signing
from app.core.errors import InvalidCursor

T = TypeVar("T")

MAX_LIMIT = 200
# Room for the longest cursor issued: a contact list sorted by name, after a name of 200
# four-byte characters, signed (about 1,200 characters).
CURSOR_MAX_LENGTH = 2048

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1-200.")]
Cursor = Annotated[
    str | None,
    Query(max_length=CURSOR_MAX_LENGTH, description="`next_cursor` of the previous page; opaque."),
]

# Integers in a cursor fit the database's BIGINT.
_INT_MAX = 2**63 - 1


class Page(BaseModel, Generic[T]):
    data: list[T] = Field(max_length=MAX_LIMIT)
    next_cursor: Annotated[str, StringConstraints(max_length=CURSOR_MAX_LENGTH)] | None


def encode_cursor(kind: str, owner_id: str, key: list[Any]) -> str:
    """A cursor for the list `kind` of `owner_id` (a kind names the list and any parent
    it belongs to, e.g. `interaction:<contact id>`), after the row whose sort key is `key`."""
    return signing.sign(_purpose(kind, owner_id), [_plain(v) for v in key])


def _purpose(kind: str, owner_id: str) -> str:
    return f"cursor:{kind}:{owner_id}"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def decode_cursor(cursor: str, kind: str, owner_id: str, types: tuple[type, ...]) -> list[Any]:
    """The key values, typed as `types` says, or InvalidCursor."""
    try:
        values = signing.unsign(_purpose(kind, owner_id), cursor)
    except signing.Invalid as exc:
        raise InvalidCursor(
            "The cursor was not issued for this list; start again without it."
        ) from exc
    if not isinstance(values, list) or len(values) != len(types):
        raise InvalidCursor("The cursor is malformed; start again without it.")
    return [_typed(value, typ) for value, typ in zip(values, types, strict=True)]


def _typed(value: Any, typ: type) -> Any:
    """Signed values are ours, but are still checked, so that a secret that leaked could
    not be used to send the database what it cannot take."""
    if typ is datetime and isinstance(value, str) and "\x00" not in value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    elif typ is str and isinstance(value, str) and 0 < len(value) <= 200 and "\x00" not in value:
        return value
    elif typ is int and isinstance(value, int) and not isinstance(value, bool):
        if -_INT_MAX <= value <= _INT_MAX:
            return value
    raise InvalidCursor("The cursor is malformed; start again without it.")


async def keyset_page(
    session: AsyncSession,
    query: Select[Any],
    *,
    order: Sequence[Any],
    descending: bool = False,
    kind: str,
    owner_id: str,
    cursor: str | None,
    limit: int,
    key: Callable[[Any], Sequence[Any]] | None = None,
) -> tuple[list[Any], str | None]:
    """One page of `query`'s rows, sorted by the columns of `order` (the last one unique, so
    that the sort is total), all ascending or all `descending`, after the row the cursor
    of the list `kind` names; and the cursor of the next page, or None on the last one.

    The rows are the query's own (entities, for a `select(Model)`); `key` gives a row's
    values of `order` when they are not its attributes of the same names (a row of an entity
    and another column)."""
    if cursor:
        types = tuple(column.type.python_type for column in order)
        query = query.where(after(order, decode_cursor(cursor, kind, owner_id, types), descending))
    rows = list((await session.exec(sorted_by(query, order, descending).limit(limit + 1))).all())
    return page_of(
        rows,
        limit,
        kind=kind,
        owner_id=owner_id,
        key=key or (lambda row: [getattr(row, column.key) for column in order]),
    )


def page_of(
    rows: Sequence[T], limit: int, *, kind: str, owner_id: str, key: Callable[[T], Sequence[Any]]
) -> tuple[list[T], str | None]:
    """The page in `rows` (up to `limit + 1` of them, read in the sort's order) and the
    cursor of the next page (after the last row shown, whose sort key `key` gives), or None
    when there is no more. For lists whose statements are built once with the cursor's
    values as parameters (`after` over bindparams)."""
    if len(rows) <= limit:
        return list(rows), None
    return list(rows[:limit]), encode_cursor(kind, owner_id, list(key(rows[limit - 1])))


def sorted_by(query: Select[Any], order: Sequence[Any], descending: bool) -> Select[Any]:
    return query.order_by(*(column.desc() for column in order) if descending else order)


def after(order: Sequence[Any], values: Sequence[Any], descending: bool) -> ColumnElement[bool]:
    """Rows past `values` (values or bind parameters) in the sort: for (a, b),
    `a > x OR (a = x AND b > y)`, as each list spelled it before it shared this (a row
    value, `(a, b) > (x, y)`, would be a new plan to check on both databases)."""
    clause = _beyond(order[-1], values[-1], descending)
    for column, value in zip(reversed(order[:-1]), reversed(values[:-1]), strict=True):
        clause = _beyond(column, value, descending) | ((column == value) & clause)
    return clause


def _beyond(column: Any, value: Any, descending: bool) -> ColumnElement[bool]:
    return column < value if descending else column > value
