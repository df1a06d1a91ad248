"""One of an owner's rows by its id: the read behind every GET, PATCH and DELETE of a
resource, and its 404.

Another owner's row is as absent as one that never existed (a 404, never a 403), so every
lookup filters on `owner_id` first, which also keeps it on the leading column of the key.
"""

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import NotFound

M = TypeVar("M", bound=SQLModel)


async def get_owned(
    session: AsyncSession,
    model: type[M],
    *,
    owner_id: str,
    id: str | None = None,
    for_update: bool = False,
    extra: Sequence[ColumnElement[bool]] = (),
    query: Select[Any] | None = None,
) -> Any:
    """The owner's row of `model` with this `id` (or, for a table keyed by the owner alone,
    their row), or None. `extra` narrows it further (a parent's id, not erased);
    `for_update` locks it until the transaction ends, so that writers to one row serialise.
    `query` selects more than the entity (say, a column of an outer join), and then the
    first row is returned instead of the entity."""
    statement = select(model) if query is None else query
    statement = statement.where(model.owner_id == owner_id, *extra)  # type: ignore[attr-defined]
    if id is not None:
        statement = statement.where(model.id == id)  # type: ignore[attr-defined]
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def get_owned_or_404(
    session: AsyncSession,
    model: type[M],
    *,
    owner_id: str,
    id: str,
    not_found: NotFound,
    for_update: bool = False,
    extra: Sequence[ColumnElement[bool]] = (),
    query: Select[Any] | None = None,
) -> Any:
    """What `get_owned` finds, or `not_found` raised: the domain's own 404, whose type and
    text clients rely on."""
    found = await get_owned(
        session, model, owner_id=owner_id, id=id, for_update=for_update, extra=extra, query=query
    )
    if found is None:
        raise not_found
    return found
