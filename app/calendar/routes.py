from typing import Annotated

from fastapi import Path, Request, Response, status

from app.calendar import feed, service
from app.calendar.schemas import CalendarFeedCreate, CalendarFeedCreated, CalendarFeedRead
from app.core.etag import check_if_match, etag_from_representation
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.unit_of_work import SessionDep, api_router

router = api_router(prefix="/v1/calendar-feeds", tags=["calendar"])
# The feed itself, which a calendar app reads without an API key: the secret URL is the
# credential. Mounted next to the consent page, outside /v1 and its keys.
feed_router = api_router(tags=["calendar"])

FeedId = Annotated[str, Path()]
Token = Annotated[
    str,
    Path(
        description="The secret in the feed's `url`; anything else answers 404.",
        # Declared, not checked: a longer one is a URL of no feed like any other (404).
        json_schema_extra={"maxLength": 64},
    ),
]


class CalendarResponse(Response):
    media_type = "text/calendar"  # Starlette adds `; charset=utf-8`


def _base_url(request: Request) -> str:
    """As consent links are made: the configured public base URL, or the request's own
    (whose Host the input guard has checked against GOODWILL_ALLOWED_HOSTS)."""
    return request.app.state.settings.public_base_url or str(request.base_url)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CalendarFeedCreated)
async def create_calendar_feed(
    body: CalendarFeedCreate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
) -> CalendarFeedCreated:
    """Make a secret calendar URL for a calendar app; the `url` is shown only in this
    response."""
    created = await service.create_feed(
        session, owner_id=principal.owner_id, name=body.name, base_url=_base_url(request)
    )
    response.headers["Location"] = f"/v1/calendar-feeds/{created.id}"
    response.headers["ETag"] = service.feed_etag(created)
    return created


@router.get("", response_model=Page[CalendarFeedRead])
async def list_calendar_feeds(
    principal: CurrentPrincipal, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[CalendarFeedRead]:
    """The owner's calendar feeds, oldest first (their URLs are never shown again)."""
    data, next_cursor = await service.list_feeds(
        session, owner_id=principal.owner_id, limit=limit, cursor=cursor
    )
    return Page(data=data, next_cursor=next_cursor)


@router.get("/{feed_id}", response_model=CalendarFeedRead)
async def read_calendar_feed(
    feed_id: FeedId, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> CalendarFeedRead:
    """One calendar feed, without its URL."""
    found = await service.get_feed(session, owner_id=principal.owner_id, feed_id=feed_id)
    response.headers["ETag"] = service.feed_etag(found)
    return service.to_read(found)


@router.delete("/{feed_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_calendar_feed(
    feed_id: FeedId, request: Request, principal: WritePrincipal, session: SessionDep
) -> Response:
    """Revoke the feed: its URL answers 404 from now on. Honours If-Match."""
    found = await service.get_feed(
        session, owner_id=principal.owner_id, feed_id=feed_id, for_update=True
    )
    check_if_match(request, service.feed_etag(found))
    await service.delete_feed(session, feed=found)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@feed_router.get(
    "/calendar/{token}.ics",
    response_class=CalendarResponse,
    responses={
        200: {
            "description": "The calendar (RFC 5545), `text/calendar; charset=utf-8`: one "
            "all-day event a day for each of the owner's open reminders and dated agenda "
            f"items of the next {feed.HORIZON_DAYS} days, at most {feed.MAX_EVENTS:,}.",
            "content": {
                "text/calendar": {"schema": {"type": "string", "maxLength": feed.MAX_LENGTH}}
            },
        }
    },
)
@etag_from_representation  # computed on every fetch: its ETag is the body's digest
async def read_calendar(token: Token, request: Request, session: SessionDep) -> Response:
    """The calendar a feed's secret URL serves, without an API key, for calendar apps to
    subscribe to: the owner's open reminders and dated agenda items (all but `rebalance`
    and `give`) for the next 30 days, each an all-day event on the day it falls due in the
    owner's `timezone` (today, when that is past; the end of its snooze, when snoozed),
    with a `UID` that stays the same from fetch to fetch. At most 1,000 events: with more, the
    most important kinds first, as the agenda ranks them (routine touches are the first
    left out), soonest first within a kind. Snoozed and dismissed items are left out until
    the agenda shows them. Rate limited per feed, as a key is; a deleted feed's URL, or any
    other, answers 404."""
    opened = await service.find_by_token(session, token)
    if opened is None:
        raise service.CalendarFeedNotFound(
            "No calendar feed has this address; it may have been deleted."
        )
    await request.app.state.rate_limiter.check(f"calendar_feed:{opened.id}", request)
    body = await feed.calendar_of(session, opened)
    return CalendarResponse(
        body,
        headers={
            # The URL is a secret: no shared cache keeps it; a client revalidates each time
            # (If-None-Match: 304 while nothing changed).
            "Cache-Control": "private, no-cache",
            "Content-Disposition": 'inline; filename="goodwill.ics"',
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex, nofollow",
        },
    )
