"""Reading introductions: filtered lists and the timeline of one."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.pagination import keyset_page
from app.core.types import utcnow
from app.introductions.models import Introduction, IntroductionEvent
from app.introductions.schemas import TimelineEventRead
from app.introductions.service import expire_due
from app.introductions.workflow import State
from app.settings.schemas import SettingsRead
from app.settings.service import get_rules


@dataclass(frozen=True)
class IntroductionFilters:
    state: State | None = None
    contact_id: str | None = None
    needs_follow_up: bool | None = None


async def list_introductions(
    session: AsyncSession,
    *,
    owner_id: str,
    filters: IntroductionFilters,
    limit: int,
    cursor: str | None,
) -> tuple[list[Introduction], SettingsRead, str | None]:
    """Newest first; with the owner's rules they were filtered by (for presenting them)."""
    await expire_due(session, owner_id=owner_id)
    rules = await get_rules(session, owner_id=owner_id)
    query = select(Introduction).where(Introduction.owner_id == owner_id)
    if filters.state is not None:
        query = query.where(Introduction.state == filters.state.value)
    if filters.contact_id is not None:
        query = query.where(
            or_(
                Introduction.requester_id == filters.contact_id,
                Introduction.target_id == filters.contact_id,
            )
        )
    if filters.needs_follow_up is not None:
        due = (Introduction.state == State.made.value) & (
            col(Introduction.made_at) < utcnow() - timedelta(days=rules.follow_up_after_days)
        )
        query = query.where(due if filters.needs_follow_up else ~due)
    rows, next_cursor = await keyset_page(
        session,
        query,
        order=[col(Introduction.id)],
        descending=True,
        kind="introduction",
        owner_id=owner_id,
        cursor=cursor,
        limit=limit,
    )
    return rows, rules, next_cursor


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
