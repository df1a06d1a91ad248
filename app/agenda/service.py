"""The agenda: what the owner should do on a day, computed from the data on every read
(each kind's query: app/agenda/kinds.py; item ids: app/agenda/items.py).

Ranking (API.md asks for a deliberate order). Kinds come in this order, because a lapse
costs more in the first ones:
  1. consent_expiring: a consent link about to lapse loses an introduction the target
     would have accepted;
  2. follow_up: a side of an introduction not heard from ("that person you introduced
     never contacted me") is owed to someone who trusted you;
  3. thanks_owed: someone just helped you;
  4. ready_to_make: the target said yes and waits for you;
  5. reminder: what the owner planned;
  6. rebalance: give before you ask again (no date makes it urgent);
  7. give: an introduction the owner could offer (GET /v1/suggestions: one contact needs
     what another offers), best suggestion first: giving first, but nothing lapses;
  8. touch_overdue: routine keep-in-touch, the most numerous.
Within a kind: by `due_at`, then by subject id (and side, for follow-ups). A page's cursor
carries (rank, due_at, that tie-break).

Snoozed and dismissed ids are kept per owner (agenda_item_state; each worker keeps them
too, app/agenda/hidden.py). Any well-formed id of the owner is accepted: items are
computed, so an id that is not on today's list may be on another day's. A snoozed item is
hidden while `until` is after the moment asked about: now, or the start of a later day
asked with `on=`.

The owner's rules (timezone, windows, ratio) decide the day and the kinds' ranges. A worker
keeps the rules it last read for an owner, with their versions; an agenda is computed with
them, and the versions every kind's rows bring must agree, else it is computed again with the
rules read afresh (when no kind had rows, the versions are read to be sure). So a change of
settings or a snooze through any worker shows on the next read, and the usual read is one
statement fewer (docs/decisions/2026-12-07-agenda-hidden-items-kept.md).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cachetools import LRUCache
from sqlalchemy import bindparam, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.agenda.hidden import Hidden, bump, hidden_items
from app.agenda.items import RANKS, day_bounds
from app.agenda.kinds import Kinds, RulesMoved
from app.agenda.models import AgendaItemState
from app.agenda.schemas import AgendaKind
from app.auth.models import Owner
from app.auth.service import lock_owner
from app.core.outbox import record_event
from app.core.pagination import decode_cursor, page_of
from app.core.reads import Reader
from app.core.types import utcnow
from app.settings.models import OwnerSettings
from app.settings.schemas import DEFAULTS

_CURSOR_KIND = "agenda"


@dataclass(frozen=True)
class _Rules:
    """The owner's settings the agenda follows."""

    timezone: str
    follow_up_after_days: int
    thanks_window_days: int
    reciprocity_ratio: int


# The owner's rules (defaults where they never set one) and the versions of their settings
# and hidden items (app/agenda/hidden.py): one statement.
_OWNER_STATE = (
    select(
        Owner.agenda_version,
        func.coalesce(col(OwnerSettings.version), 0).label("settings_version"),
        *(
            func.coalesce(getattr(OwnerSettings, name), DEFAULTS[name]).label(name)
            for name in _Rules.__dataclass_fields__
        ),
    )
    .select_from(Owner)
    .outerjoin(OwnerSettings, col(OwnerSettings.owner_id) == Owner.id)
    .where(Owner.id == bindparam("owner_id"))
)


@dataclass(frozen=True)
class OwnerState:
    """What an agenda of the owner's follows: their rules and the items they hid, with the
    versions (settings, hidden items) they were read at."""

    rules: _Rules
    hidden: Hidden
    versions: tuple[int, int]


# The rules each worker read last per owner, with their versions (a few dozen bytes each).
_kept_rules: LRUCache[str, tuple[tuple[int, int], _Rules]] = LRUCache(maxsize=10_000)


async def owner_state(reader: Reader, owner_id: str) -> OwnerState:
    """The owner's rules and hidden items, read now."""
    row = (await reader.rows(_OWNER_STATE, {"owner_id": owner_id}))[0]
    rules = _Rules(**{name: row[name] for name in _Rules.__dataclass_fields__})
    versions = (row["settings_version"], row["agenda_version"])
    _kept_rules[owner_id] = (versions, rules)
    hidden = await hidden_items(reader, owner_id=owner_id, version=versions[1])
    return OwnerState(rules, hidden, versions)


async def _kept_state(reader: Reader, owner_id: str) -> OwnerState | None:
    """The owner's rules as this worker read them last, and the hidden items of that
    version (kept too, as a rule): maybe out of date, which the kinds' rows tell."""
    kept = _kept_rules.get(owner_id)
    if kept is None:
        return None
    versions, rules = kept
    hidden = await hidden_items(reader, owner_id=owner_id, version=versions[1])
    return OwnerState(rules, hidden, versions)


async def agenda(
    reader: Reader,
    *,
    owner_id: str,
    on: date | None,
    kinds: Sequence[AgendaKind],
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    asked = _Asked(owner_id, on, set(kinds) or set(RANKS), limit, cursor)
    kept = await _kept_state(reader, owner_id)
    if kept is not None:
        try:
            answer, confirmed = await _compute(reader, asked, kept, check=True)
        except RulesMoved:
            pass
        else:
            if confirmed:
                return answer
            # No kind had rows to tell: the versions are read to be sure.
            fresh = await owner_state(reader, owner_id)
            if fresh.versions == kept.versions:
                return answer
            return (await _compute(reader, asked, fresh, check=False))[0]
    fresh = await owner_state(reader, owner_id)
    return (await _compute(reader, asked, fresh, check=False))[0]


@dataclass(frozen=True)
class _Asked:
    owner_id: str
    on: date | None
    kinds: set[AgendaKind]
    limit: int
    cursor: str | None


async def _compute(
    reader: Reader, asked: _Asked, state: OwnerState, *, check: bool
) -> tuple[tuple[list[dict[str, Any]], str | None], bool]:
    """The page asked for, with the owner's rules and hidden items in `state`; and whether
    some kind's rows confirmed `state`'s versions (with `check`, rows that bring other
    versions raise RulesMoved)."""
    owner_id, limit = asked.owner_id, asked.limit
    now = utcnow()
    day = day_bounds(asked.on, state.rules.timezone, now)
    after_key = None
    if asked.cursor:
        after_key = tuple(decode_cursor(asked.cursor, _CURSOR_KIND, owner_id, (int, datetime, str)))
    expected = state.versions if check else None
    compute = Kinds(reader, owner_id, day, state.rules, now, state.hidden, expected)
    items: list[dict[str, Any]] = []
    for kind, rank in sorted(RANKS.items(), key=lambda pair: pair[1]):
        if kind not in asked.kinds or (after_key is not None and rank < after_key[0]):
            continue
        kind_cursor = after_key[1:] if after_key is not None and rank == after_key[0] else None
        # Enough rows of the kind for the page once the cursor's own row is dropped; four
        # times as many, read again, while hidden items (or rows of contacts no longer
        # live) leave the page short and the kind has more.
        bound = limit + 2
        while True:
            batch = await getattr(compute, kind.value)(kind_cursor, bound)
            found = [item for item in batch if after_key is None or item["_key"] > after_key]
            if len(items) + len(found) > limit or compute.rows_read < bound:
                break
            bound *= 4
        items += found
        if len(items) > limit:
            # Later kinds rank after every item already found.
            break
    items.sort(key=lambda item: item["_key"])
    page, next_cursor = page_of(
        items[: limit + 1],
        limit,
        kind=_CURSOR_KIND,
        owner_id=owner_id,
        key=lambda item: list(item["_key"]),
    )
    for item in page:
        del item["_key"]
    return (page, next_cursor), compute.confirmed


async def hide(
    session: AsyncSession, *, owner_id: str, item_id: str, until: datetime | None
) -> dict[str, Any]:
    """Snooze (until a moment) or dismiss (None) an item, and say so in the feed."""
    # Two first snoozes of one item at once would both find no row and both insert it.
    await lock_owner(session, owner_id)
    state = await session.get(AgendaItemState, (owner_id, item_id), with_for_update=True)
    if state is None:
        state = AgendaItemState(owner_id=owner_id, item_id=item_id, created_at=utcnow())
    state.until = until
    session.add(state)
    await bump(session, owner_id)
    await session.flush()
    record_event(
        session,
        owner_id=owner_id,
        type="agenda_item.snoozed" if until is not None else "agenda_item.dismissed",
        resource="agenda_item",
        resource_id=item_id,
        data={"id": item_id, "until": until.isoformat() if until is not None else None},
    )
    return {"id": item_id, "until": until}
