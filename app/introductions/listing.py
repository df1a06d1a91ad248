"""Reading introductions: filtered lists and the timeline of one."""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.pagination import after, decode_cursor, keyset_page, page_of, sorted_by
from app.core.reads import Reader
from app.core.sql import plus_days
from app.core.types import UTCDateTime, utcnow
from app.core.unit_of_work import SessionOpener
from app.introductions.models import Introduction, IntroductionEvent
from app.introductions.schemas import TimelineEventRead
from app.introductions.service import (
    DOCUMENT_COLUMNS,
    FOLLOWED_UP,
    expire_due,
    introduction_document,
)
from app.introductions.workflow import State
from app.settings.service import owner_rule


@dataclass(frozen=True)
class IntroductionFilters:
    state: State | None = None
    contact_id: str | None = None
    needs_follow_up: bool | None = None


@dataclass(frozen=True)
class _Shape:
    """Which filters a request uses: the statement for a shape is built once
    (docs/decisions/2026-11-22-statements-built-once.md)."""

    state: bool
    contact: bool
    needs_follow_up: bool | None
    after: bool


@lru_cache(maxsize=32)
def _statement(shape: _Shape) -> Any:
    owner_id = bindparam("owner_id")
    now = bindparam("now", type_=UTCDateTime())
    follow_up_after_days = owner_rule("follow_up_after_days", owner_id)
    # Whether a consent request of the owner's is past its date and not yet expired (an
    # index probe): the page stands only if none is (`list_introductions`).
    overdue = (
        select(Introduction.id)
        .where(
            Introduction.owner_id == owner_id,
            Introduction.state == State.awaiting_consent.value,
            col(Introduction.consent_expires_at) < now,
        )
        .exists()
    )
    query = select(
        *DOCUMENT_COLUMNS,
        follow_up_after_days.label("follow_up_after_days"),
        overdue.label("overdue"),
    ).where(Introduction.owner_id == owner_id)
    if shape.state:
        query = query.where(Introduction.state == bindparam("state"))
    if shape.contact:
        contact_id = bindparam("contact_id")
        query = query.where(
            or_(Introduction.requester_id == contact_id, Introduction.target_id == contact_id)
        )
    if shape.needs_follow_up is not None:
        # As `service.follow_up_due_from`: made (or completed by one side), past the delay,
        # and a side still silent. Made and completed rows always have `made_at`, so the
        # negation below meets no NULL.
        due = (
            col(Introduction.state).in_(FOLLOWED_UP)
            & (plus_days(col(Introduction.made_at), follow_up_after_days) < now)
            & (
                col(Introduction.requester_outcome).is_(None)
                | col(Introduction.target_outcome).is_(None)
            )
        )
        query = query.where(due if shape.needs_follow_up else ~due)
    order = [col(Introduction.id)]
    if shape.after:
        query = query.where(after(order, [bindparam("after_id")], descending=True))
    return sorted_by(query, order, descending=True).limit(bindparam("limit"))


async def list_introductions(
    reader: Reader,
    session: SessionOpener,
    *,
    owner_id: str,
    filters: IntroductionFilters,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, as documents, from one statement that brings the owner's follow-up
    delay and whether any consent request of theirs is overdue. Overdue requests expire
    before a page is answered, so no client sees a stale `awaiting_consent`: when the page
    says some are (or is empty, and so cannot say), the request's session is opened, they
    expire in it, and the page is read again on its connection. Usually nothing is overdue
    and the list is that one statement, with no transaction
    (docs/decisions/2026-12-07-interactions-and-introductions-on-the-hot-paths.md)."""
    now = utcnow()
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit + 1, "now": now}
    if cursor:
        (params["after_id"],) = decode_cursor(cursor, "introduction", owner_id, (str,))
    if filters.state is not None:
        params["state"] = filters.state.value
    if filters.contact_id is not None:
        params["contact_id"] = filters.contact_id
    statement = _statement(
        _Shape(
            state=filters.state is not None,
            contact=filters.contact_id is not None,
            needs_follow_up=filters.needs_follow_up,
            after=bool(cursor),
        )
    )
    rows = await reader.rows(statement, params)
    if not rows or rows[0]["overdue"]:
        opened = await session()
        expired = await expire_due(opened, owner_id=owner_id)
        # Read again whenever the page said some were overdue, even if another request
        # expired them first: the page read before its expiry committed would show them
        # still awaiting consent.
        if expired or rows:
            rows = await Reader(opened).rows(statement, params)
    page, next_cursor = page_of(
        rows, limit, kind="introduction", owner_id=owner_id, key=lambda row: [row["id"]]
    )
    documents = [introduction_document(row, row["follow_up_after_days"], now) for row in page]
    return documents, next_cursor


async def list_timeline(
    session: AsyncSession, *, intro: Introduction, limit: int, cursor: str | None
) -> tuple[list[TimelineEventRead], str | None]:
    """Oldest first: the story of the introduction."""
    rows, next_cursor = await keyset_page(
        session,
        select(IntroductionEvent).where(
            IntroductionEvent.owner_id == intro.owner_id,
            IntroductionEvent.introduction_id == intro.id,
        ),
        order=[col(IntroductionEvent.occurred_at), col(IntroductionEvent.id)],
        kind=f"introduction_event:{intro.id}",
        owner_id=intro.owner_id,
        cursor=cursor,
        limit=limit,
    )
    return [TimelineEventRead.model_validate(e, from_attributes=True) for e in rows], next_cursor
