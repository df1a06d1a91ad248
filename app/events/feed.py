"""The change feed: an owner's events in commit order, by an opaque cursor over `event.seq`.

Reading `seq > cursor` never skips an event because an owner's events commit in `seq`
order (app/events/service.py): once a reader sees one, every earlier one is visible too.
"""

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import InvalidCursor
from app.core.outbox import Event
from app.core.pagination import decode_cursor, encode_cursor
from app.events.schemas import EventPage, EventRead

_KIND = "event"


def _after_seq(cursor: str | None, owner_id: str) -> int:
    if cursor is None:
        return 0
    (seq,) = decode_cursor(cursor, _KIND, owner_id, (int,))
    if seq < 0:
        raise InvalidCursor("The cursor is malformed; start again without it.")
    return seq


async def list_events(
    session: AsyncSession, *, owner_id: str, cursor: str | None, limit: int
) -> EventPage:
    seq = _after_seq(cursor, owner_id)
    rows = (
        await session.exec(
            select(Event)
            .where(Event.owner_id == owner_id, col(Event.seq) > seq)
            .order_by(col(Event.seq))
            .limit(limit)
        )
    ).all()
    last = rows[-1].seq if rows else seq
    return EventPage(
        data=[EventRead.model_validate(e, from_attributes=True) for e in rows],
        next_cursor=encode_cursor(_KIND, owner_id, [last]),
    )
