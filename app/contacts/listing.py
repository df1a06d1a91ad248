"""Listing contacts: filters, sort orders and keyset pages over any of them."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, exists, func, literal
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts.models import Contact, ContactExternalRef, ContactTag
from app.contacts.schemas import ContactSort, TrustStage
from app.contacts.service import CONTACT_COLUMNS
from app.core.db import fetch_rows
from app.core.pagination import decode_cursor, encode_cursor
from app.core.types import UTCDateTime, utcnow
from app.ledger.reciprocity import Flag
from app.settings.service import owner_ratio

# Contacts never met sort as if last met at the epoch: first ascending, last descending.
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ContactFilters:
    q: str | None = None
    tag: str | None = None
    trust_stage: TrustStage | None = None
    updated_since: datetime | None = None
    stale: bool | None = None
    channel_use: str | None = None
    external_ref: tuple[str, str] | None = None
    archived: bool = False
    flags: frozenset[Flag] = field(default_factory=frozenset)


def _sort_key(sort: ContactSort, ratio: Any) -> tuple[Any, type] | None:
    """The expression a sort orders by (ties broken by id), and its type in a cursor."""
    name = sort.value.lstrip("-")
    if name == "goodwill":
        return col(Contact.ledger_deposits) - ratio * col(Contact.ledger_withdrawals), int
    if name == "last_interaction_at":
        never = literal(_NEVER, UTCDateTime())
        return func.coalesce(col(Contact.last_interaction_at), never), datetime
    if name == "display_name":
        return func.lower(col(Contact.display_name)), str
    return None  # created_at: ids are time-ordered


def _flag_condition(flag: Flag, ratio: Any) -> ColumnElement[bool]:
    deposits, withdrawals = col(Contact.ledger_deposits), col(Contact.ledger_withdrawals)
    if flag == Flag.overdrawn:
        return deposits - ratio * withdrawals < 0
    if flag == Flag.one_sided:  # as in app.ledger.reciprocity.is_one_sided
        return (withdrawals == 0) & (deposits >= ratio)
    return col(Contact.due_at) < utcnow()


def _filtered(query: Any, owner_id: str, filters: ContactFilters, ratio: Any) -> Any:
    archived = col(Contact.archived_at)
    query = query.where(archived.is_not(None) if filters.archived else archived.is_(None))
    if filters.q:
        query = query.where(col(Contact.search_text).contains(filters.q.lower(), autoescape=True))
    if filters.tag:
        query = query.where(
            exists().where(
                ContactTag.owner_id == owner_id,
                ContactTag.tag == filters.tag,
                ContactTag.contact_id == Contact.id,
            )
        )
    if filters.trust_stage:
        query = query.where(Contact.trust_stage == filters.trust_stage.value)
    if filters.updated_since:
        query = query.where(Contact.updated_at >= filters.updated_since)
    if filters.stale is not None:
        due, now = col(Contact.due_at), utcnow()
        query = query.where(due < now if filters.stale else (due.is_(None) | (due >= now)))
    if filters.channel_use:
        query = query.where(col(Contact.channel_uses).contains(f",{filters.channel_use},"))
    if filters.external_ref:
        system, ext_id = filters.external_ref
        query = query.where(
            exists().where(
                ContactExternalRef.owner_id == owner_id,
                ContactExternalRef.system == system,
                ContactExternalRef.external_id == ext_id,
                ContactExternalRef.contact_id == Contact.id,
            )
        )
    for flag in filters.flags:
        query = query.where(_flag_condition(flag, ratio))
    return query


async def list_contacts(
    session: AsyncSession,
    *,
    owner_id: str,
    filters: ContactFilters,
    sort: ContactSort,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], int, str | None]:
    """A page of contacts (rows of `CONTACT_COLUMNS`), the owner's ratio they were filtered
    and sorted by (for presenting them), and the next page's cursor."""
    # The ratio is a subquery of the one statement (evaluated once), not a round trip first.
    ratio = owner_ratio(owner_id)
    descending = sort.value.startswith("-")
    key = _sort_key(sort, ratio)
    # The sort value is read back from the database, so a cursor holds exactly what the
    # database compares (its lower() and arithmetic, not Python's).
    query = select(
        *CONTACT_COLUMNS,
        ratio.label("ratio"),
        (key[0] if key else literal(None)).label("sort_value"),
    )
    query = query.where(Contact.owner_id == owner_id, col(Contact.erased_at).is_(None))
    query = _filtered(query, owner_id, filters, ratio)
    contact_id = col(Contact.id)
    kind = f"contact:{sort.value}"
    if key is None:
        if cursor:
            (after,) = decode_cursor(cursor, kind, (str,))
            query = query.where(contact_id < after if descending else contact_id > after)
        order = [contact_id.desc() if descending else contact_id]
    else:
        expr, typ = key
        if cursor:
            value, after = decode_cursor(cursor, kind, (typ, str))
            if descending:
                query = query.where((expr < value) | ((expr == value) & (contact_id < after)))
            else:
                query = query.where((expr > value) | ((expr == value) & (contact_id > after)))
        order = [expr.desc(), contact_id.desc()] if descending else [expr, contact_id]
    rows = await fetch_rows(session, query.order_by(*order).limit(limit + 1))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(kind, [last.id] if key is None else [last.sort_value, last.id])
    # No rows, nothing to present: the ratio does not matter then.
    return rows[:limit], rows[0].ratio if rows else 0, next_cursor
