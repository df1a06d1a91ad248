"""Calendar feeds: secret, revocable URLs a calendar app subscribes to without an API key.

The URL's token is 256 random bits, shown once when the feed is made; only its SHA-256 is
kept (as API keys keep theirs), so a fetch finds its feed with one lookup by a unique key,
and a copy of the database holds no working URL. Deleting the feed revokes the URL. What a
fetch answers is app/calendar/feed.py.
"""

import hmac
import re
import secrets
from typing import NamedTuple

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.service import hash_secret
from app.calendar.models import CalendarFeed
from app.calendar.schemas import CalendarFeedCreated, CalendarFeedRead
from app.core.errors import NotFound
from app.core.etag import make_etag
from app.core.outbox import record_event
from app.core.pagination import keyset_page
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow

# What `secrets.token_urlsafe(32)` makes: 43 characters of URL-safe base64.
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class CalendarFeedNotFound(NotFound):
    type, title = "calendar-feed-not-found", "Calendar feed not found"


class OpenedFeed(NamedTuple):
    """What a fetch of a feed's URL needs of it."""

    id: str
    owner_id: str
    name: str


def to_read(feed: CalendarFeed) -> CalendarFeedRead:
    return CalendarFeedRead.model_validate(feed, from_attributes=True)


def feed_etag(feed: CalendarFeed | CalendarFeedRead) -> str:
    # A feed never changes (its name is set once); deleting it is the only other state.
    return make_etag(1)


def feed_path(token: str) -> str:
    return f"/calendar/{token}.ics"


async def create_feed(
    session: AsyncSession, *, owner_id: str, name: str, base_url: str
) -> CalendarFeedCreated:
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        owner_id=owner_id,
        id=new_id("cal"),
        name=name,
        token_hash=hash_secret(token),
        created_at=utcnow(),
    )
    session.add(feed)
    await session.flush()
    read = to_read(feed)
    # The event, like the list, never carries the URL: the change feed and webhooks are read
    # by other clients than the one that made it.
    _record(session, owner_id, read, "calendar_feed.created")
    return CalendarFeedCreated(**read.model_dump(), url=base_url.rstrip("/") + feed_path(token))


async def get_feed(
    session: AsyncSession, *, owner_id: str, feed_id: str, for_update: bool = False
) -> CalendarFeed:
    return await get_owned_or_404(
        session,
        CalendarFeed,
        owner_id=owner_id,
        id=feed_id,
        for_update=for_update,
        not_found=CalendarFeedNotFound(f"No calendar feed {feed_id}."),
    )


async def list_feeds(
    session: AsyncSession, *, owner_id: str, limit: int, cursor: str | None
) -> tuple[list[CalendarFeedRead], str | None]:
    rows, next_cursor = await keyset_page(
        session,
        select(CalendarFeed).where(CalendarFeed.owner_id == owner_id),
        order=[col(CalendarFeed.id)],
        kind="calendar_feed",
        owner_id=owner_id,
        cursor=cursor,
        limit=limit,
    )
    return [to_read(feed) for feed in rows], next_cursor


async def delete_feed(session: AsyncSession, *, feed: CalendarFeed) -> None:
    """Revoke the URL: the next fetch of it is a 404."""
    owner_id, read = feed.owner_id, to_read(feed)
    await session.delete(feed)
    await session.flush()
    _record(session, owner_id, read, "calendar_feed.deleted")


async def find_by_token(session: AsyncSession, token: str) -> OpenedFeed | None:
    """The feed a URL's token opens, with its owner, or None: unknown, revoked, or not a
    token this service makes (no lookup for those)."""
    if not TOKEN.fullmatch(token):
        return None
    digest = hash_secret(token)
    row = (
        await session.exec(
            select(
                CalendarFeed.id, CalendarFeed.owner_id, CalendarFeed.name, CalendarFeed.token_hash
            ).where(CalendarFeed.token_hash == digest)
        )
    ).first()
    # The index lookup already matched the hash; the constant-time compare is belt and braces.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return OpenedFeed(row.id, row.owner_id, row.name)


def _record(session: AsyncSession, owner_id: str, read: CalendarFeedRead, type_: str) -> None:
    record_event(
        session,
        owner_id=owner_id,
        type=type_,
        resource="calendar_feed",
        resource_id=read.id,
        data=read,
    )
