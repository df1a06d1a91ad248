"""The change feed: an owner's events in commit order, by an opaque cursor over `event.seq`.

Reading `seq > cursor` never skips an event because an owner's events commit in `seq`
order (app/events/service.py): once a reader sees one, every earlier one is visible too.

Filtered by `type`, a page does bounded work however rarely the types occur: it reads at
most FILTER_SCAN_ROWS of the owner's events past the cursor (their `seq` and `type` only,
by the `(owner_id, seq)` index), keeps those that match, and returns a cursor at the last
event it read, or at the `limit`-th match when it found that many first. A page can
therefore hold fewer than `limit` events, even none, while more matches lie further on;
polling from each `next_cursor` still sees every match exactly once, since every event up
to the cursor was looked at. (An index on `(owner_id, type, seq)` could answer full pages,
but every write would pay for it on the busiest table, and several types or a `resource.*`
pattern would still read from one index range per type.)
"""

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import InvalidCursor
from app.core.outbox import Event
from app.core.pagination import decode_cursor, encode_cursor
from app.events.schemas import EventPage, EventRead
from app.events.webhooks import matches

_KIND = "event"
# Five times the largest page: a filter matching one event in five still fills one.
FILTER_SCAN_ROWS = 1000


def _after_seq(cursor: str | None, owner_id: str) -> int:
    if cursor is None:
        return 0
    (seq,) = decode_cursor(cursor, _KIND, owner_id, (int,))
    if seq < 0:
        raise InvalidCursor("The cursor is malformed; start again without it.")
    return seq


def _page(rows: Sequence[Event], owner_id: str, last: int) -> EventPage:
    return EventPage(
        data=[EventRead.model_validate(e, from_attributes=True) for e in rows],
        next_cursor=encode_cursor(_KIND, owner_id, [last]),
    )


async def list_events(
    session: AsyncSession,
    *,
    owner_id: str,
    cursor: str | None,
    limit: int,
    types: Sequence[str] = (),
) -> EventPage:
    """`types`: event types or `resource.*` patterns (validated by the route); none for all.
    The cursor is a position in the feed, so the same one serves with any filter."""
    seq = _after_seq(cursor, owner_id)
    after = (Event.owner_id == owner_id, col(Event.seq) > seq)
    if not types:
        rows = (
            await session.exec(select(Event).where(*after).order_by(col(Event.seq)).limit(limit))
        ).all()
        return _page(rows, owner_id, rows[-1].seq if rows else seq)  # type: ignore[arg-type]
    scanned = (
        await session.exec(
            select(Event.seq, Event.type)
            .where(*after)
            .order_by(col(Event.seq))
            .limit(FILTER_SCAN_ROWS)
        )
    ).all()
    wanted: list[int] = []
    last = seq
    for row_seq, row_type in scanned:
        last = row_seq  # type: ignore[assignment]
        if matches(types, row_type):
            wanted.append(row_seq)  # type: ignore[arg-type]
            if len(wanted) == limit:
                break
    rows = []
    if wanted:
        rows = (
            await session.exec(
                select(Event)
                .where(Event.owner_id == owner_id, col(Event.seq).in_(wanted))
                .order_by(col(Event.seq))
            )
        ).all()
    return _page(rows, owner_id, last)
