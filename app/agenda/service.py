"""The agenda: what the owner should do on a day, computed from the data on every read.

Each kind is one bounded, indexed query (the owner's rows in the kind's range, in the
kind's order, LIMIT what a page can need): never a scan of every contact or entry.

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

Item ids: `ag_` + the first 20 hex digits of SHA-256 over kind, subject id and what makes
this occurrence due: a contact's `next_touch_due_at`, a reminder's `due_at`, a consent
link's expiry, the side of an introduction, a contact's withdrawals total. So an item keeps
its id from day to day, and a new occurrence (a touch due again after a new interaction,
a reissued link, a new `received` entry) is a new item: a snooze or a dismissal holds for
the occurrence it was given to. Six more hex digits check the owner (`for_owner`).

Snoozed and dismissed ids are kept per owner (agenda_item_state; each worker keeps them
too, app/agenda/hidden.py). Any well-formed id of
the owner is accepted: items are computed, so an id that is not on today's list may be on another
day's. A snoozed item is hidden while `until` is after the moment asked about: now, or the
start of a later day asked with `on=`.
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    text,
    true,
    tuple_,
)
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.agenda.hidden import Hidden, bump, hidden_items
from app.agenda.models import AgendaItemState
from app.agenda.schemas import AgendaKind
from app.auth.models import Owner
from app.auth.service import lock_owner
from app.contacts.models import WITHDRAWN, Contact
from app.core.outbox import record_event
from app.core.pagination import decode_cursor, page_of
from app.core.reads import Reader
from app.core.reciprocity import goodwill, is_overdrawn
from app.core.types import UTCDateTime, utcnow
from app.introductions.models import FEEDBACK_DUE, Introduction
from app.ledger.models import LedgerEntry
from app.network import suggestions
from app.reminders.models import Reminder
from app.settings.models import OwnerSettings
from app.settings.schemas import DEFAULTS

RANKS: dict[AgendaKind, int] = {
    AgendaKind.consent_expiring: 0,
    AgendaKind.follow_up: 1,
    AgendaKind.thanks_owed: 2,
    AgendaKind.ready_to_make: 3,
    AgendaKind.reminder: 4,
    AgendaKind.rebalance: 5,
    AgendaKind.give: 6,
    AgendaKind.touch_overdue: 7,
}
# How far ahead of a day a consent link's expiry puts it on the agenda.
CONSENT_WARNING = timedelta(days=2)
ITEM_ID = re.compile(r"ag_[0-9a-f]{26}")
_CURSOR_KIND = "agenda"
# The aliases the kinds' statements join through, made once: an alias made per request
# costs more CPU than the rest of the request (its columns adapted anew each time).


def _live_name(contact_id: Any, name: str) -> Any:
    """The display name of the owner's contact `contact_id` while it is live, else NULL
    (docs/decisions/2026-12-07-agenda-names-by-subquery.md).

    A scalar subquery, not a join: PostgreSQL runs it as one primary-key lookup per row
    whatever the plan. A join let the generic plan of the prepared statement, made for the
    average owner (a hundred contacts in the benchmark), scan all of a large owner's
    contacts for every row (ready_to_make: 1.5 ms planned for the owner, 900 ms generic);
    planning every run instead cost a quarter of GET /v1/agenda's throughput.

    A row whose contact is not live (archived, erased) comes back with a NULL name and makes
    no item: the kinds leave it out in Python, because a condition on the subquery in SQL
    ran it a second time for every row (four primary-key lookups a row instead of two)."""
    contact = aliased(Contact, name=name)
    return (
        select(contact.display_name)
        .where(
            contact.owner_id == bindparam("owner_id"),
            contact.id == contact_id,
            _live(contact),
        )
        .scalar_subquery()
    )


_REVERSAL, _GAVE = aliased(LedgerEntry, name="reversal"), aliased(LedgerEntry, name="gave")


def item_id(kind: AgendaKind, subject_id: str, occurrence: str) -> str:
    """The id of an item, before `for_owner` binds it to its owner."""
    digest = hashlib.sha256(f"{kind.value}\x00{subject_id}\x00{occurrence}".encode()).hexdigest()
    return "ag_" + digest[:20]


def _check(owner_id: str, unbound: str) -> str:
    return hashlib.sha256(f"{owner_id}\x00{unbound}".encode()).hexdigest()[:6]


def for_owner(owner_id: str, unbound: str) -> str:
    """An item id ends with a check of its owner, so that one owner's ids are not
    well-formed for another (404), as another's resources never exist."""
    return unbound + _check(owner_id, unbound)


def is_owners(owner_id: str, value: str) -> bool:
    return bool(ITEM_ID.fullmatch(value)) and value[-6:] == _check(owner_id, value[:-6])


@dataclass(frozen=True)
class Day:
    """The day asked about, as UTC instants: [start, end), in the owner's timezone."""

    start: datetime
    end: datetime
    # The moment a snooze is compared with: now, or the start of a later day.
    moment: datetime
    zone: ZoneInfo

    def date_of(self, value: datetime) -> str:
        """The owner's date of an instant, as a reason says it."""
        return value.astimezone(self.zone).date().isoformat()


def day_bounds(on: date | None, timezone: str, now: datetime) -> Day:
    zone = ZoneInfo(timezone)
    day = on or now.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return Day(start, end, max(now, start), zone)


def _live(contact: Any) -> Any:
    return and_(col(contact.archived_at).is_(None), col(contact.erased_at).is_(None))


def _at(name: str) -> Any:
    """A parameter holding an instant (stored in UTC, as the columns are)."""
    return bindparam(name, type_=UTCDateTime())


def _after(due: Any, tie: Any, paged: bool) -> Any:
    """On a later page, rows at or past the cursor's (due_at, tie-break) (`_after_values`);
    the exact cut is made on the items (a follow-up's tie-break adds the side to the
    introduction's id). A row value, so that a later page starts where it is along the kind's
    index instead of reading every row before it."""
    if not paged:
        return true()
    return tuple_(due, tie) >= tuple_(_at("after_due"), bindparam("after_tie", type_=String()))


def _after_values(cursor: tuple[datetime, str] | None) -> dict[str, Any]:
    if cursor is None:
        return {}
    return {"after_due": cursor[0], "after_tie": cursor[1].split(":", 1)[0]}


# Each kind's statement is built once (with or without a cursor) with parameters for the
# owner, the day and the page, and run by a Reader (app/core/reads.py): building and
# executing a statement through the ORM on every request cost more CPU than the rest of
# GET /v1/agenda.


@cache
def _consent_expiring(paged: bool) -> Select[Any]:
    target = _live_name(Introduction.target_id, "target")
    requester = _live_name(Introduction.requester_id, "requester")
    expires = col(Introduction.consent_expires_at)
    return (
        select(
            Introduction.id,
            expires,
            Introduction.target_id,
            target.label("target_name"),
            requester.label("requester_name"),
        )
        .where(
            Introduction.owner_id == bindparam("owner_id"),
            Introduction.state == "awaiting_consent",
            expires >= _at("start"),
            expires < _at("end"),
            _after(expires, Introduction.id, paged),
        )
        .order_by(expires, Introduction.id)
        .limit(bindparam("limit", type_=Integer()))
    )


@cache
def _follow_up(paged: bool) -> Select[Any]:
    requester = _live_name(Introduction.requester_id, "requester")
    target = _live_name(Introduction.target_id, "target")
    made = col(Introduction.made_at)
    return (
        select(
            Introduction.id,
            made,
            Introduction.requester_outcome,
            Introduction.target_outcome,
            Introduction.requester_id,
            requester.label("requester_name"),
            Introduction.target_id,
            target.label("target_name"),
        )
        .where(
            Introduction.owner_id == bindparam("owner_id"),
            # As introductions.service.follow_up_due_from, with that day's end for now;
            # spelled as the partial index's condition.
            text(FEEDBACK_DUE),
            made < _at("made_before"),
            _after(made, Introduction.id, paged),
        )
        .order_by(made, Introduction.id)
        .limit(bindparam("limit", type_=Integer()))
    )


@cache
def _thanks_owed(paged: bool) -> Select[Any]:
    occurred = col(LedgerEntry.occurred_at)
    reversal, gave = _REVERSAL, _GAVE
    name = _live_name(LedgerEntry.contact_id, "contact")
    return (
        select(
            LedgerEntry.id, occurred, LedgerEntry.kind, LedgerEntry.contact_id, name.label("name")
        )
        .where(
            LedgerEntry.owner_id == bindparam("owner_id"),
            occurred >= _at("start"),
            occurred < _at("end"),
            LedgerEntry.direction == "received",
            LedgerEntry.weight > 0,
            ~exists().where(
                reversal.owner_id == LedgerEntry.owner_id,
                reversal.reverses_id == LedgerEntry.id,
            ),
            # Thanked: something given to them since (by the contact's entries index).
            ~exists().where(
                gave.owner_id == LedgerEntry.owner_id,
                gave.contact_id == LedgerEntry.contact_id,
                gave.occurred_at > LedgerEntry.occurred_at,
                gave.direction == "gave",
                gave.weight > 0,
            ),
            _after(occurred, LedgerEntry.id, paged),
        )
        .order_by(occurred, LedgerEntry.id)
        .limit(bindparam("limit", type_=Integer()))
    )


@cache
def _ready_to_make(paged: bool) -> Select[Any]:
    requester = _live_name(Introduction.requester_id, "requester")
    target = _live_name(Introduction.target_id, "target")
    decided = col(Introduction.decided_at)
    return (
        select(
            Introduction.id,
            decided,
            Introduction.requester_id,
            requester.label("requester_name"),
            target.label("target_name"),
        )
        .where(
            Introduction.owner_id == bindparam("owner_id"),
            Introduction.state == "consented",
            decided < _at("end"),
            _after(decided, Introduction.id, paged),
        )
        .order_by(decided, Introduction.id)
        .limit(bindparam("limit", type_=Integer()))
    )


@cache
def _reminder(paged: bool) -> Select[Any]:
    due = col(Reminder.due_at)
    name = _live_name(Reminder.contact_id, "contact")
    return (
        select(Reminder.id, due, Reminder.note, Reminder.contact_id, name.label("name"))
        .where(
            Reminder.owner_id == bindparam("owner_id"),
            col(Reminder.done_at).is_(None),
            due < _at("end"),
            _after(due, Reminder.id, paged),
        )
        .order_by(due, Reminder.id)
        .limit(bindparam("limit", type_=Integer()))
    )


@cache
def _rebalance(paged: bool) -> Select[Any]:
    ratio = bindparam("ratio", type_=Integer())
    return (
        select(
            Contact.id, Contact.display_name, Contact.ledger_deposits, Contact.ledger_withdrawals
        )
        .where(
            Contact.owner_id == bindparam("owner_id"),
            text(WITHDRAWN),  # as the partial index's condition
            is_overdrawn(
                goodwill(col(Contact.ledger_deposits), col(Contact.ledger_withdrawals), ratio)
            ),
            col(Contact.id) >= bindparam("after_tie", type_=String()) if paged else true(),
        )
        .order_by(Contact.id)
        .limit(bindparam("limit", type_=Integer()))
    )


@cache
def _touch_overdue(paged: bool) -> Select[Any]:
    due = col(Contact.due_at)
    return (
        select(Contact.id, Contact.display_name, due)
        .where(
            Contact.owner_id == bindparam("owner_id"),
            due < _at("end"),
            _live(Contact),
            _after(due, Contact.id, paged),
        )
        .order_by(due, Contact.id)
        .limit(bindparam("limit", type_=Integer()))
    )


def _item(
    kind: AgendaKind,
    *,
    occurrence: str,
    due_at: datetime,
    contact_id: str,
    name: str,
    subject: tuple[str, str],
    reason: str,
    action: str,
    tie: str | None = None,
) -> dict[str, Any]:
    return {
        "id": item_id(kind, subject[1], occurrence),
        "kind": kind.value,
        "due_at": due_at,
        "contact": {"id": contact_id, "display_name": name},
        "subject": {"type": subject[0], "id": subject[1]},
        "reason": reason,
        "suggested_action": action,
        "_key": (RANKS[kind], due_at, tie or subject[1]),
    }


class _Kinds:
    """One method per kind: the query, and its rows as items (none for a row whose contact
    is not live). `rows_read` says how many rows the last one read: fewer than it asked
    for means the kind has no more."""

    def __init__(self, reader: Reader, owner_id: str, day: Day, rules: Any, now: datetime) -> None:
        self.reader = reader
        self.owner_id = owner_id
        self.day = day
        self.rules = rules
        self.now = now
        self.rows_read = 0

    async def _rows(
        self, statement: Select[Any], limit: int, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Through the agenda's Reader (the request's, or a session's for the calendar)."""
        values = {"owner_id": self.owner_id, "limit": limit, **params}
        rows = await self.reader.rows(statement, values)
        self.rows_read = len(rows)
        return [tuple(row.values()) for row in rows]

    async def consent_expiring(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        # A link already past its expiry has lapsed, whatever the sweep has written.
        window = {"start": max(self.day.start, self.now), "end": self.day.end + CONSENT_WARNING}
        rows = await self._rows(
            _consent_expiring(cursor is not None), limit, {**window, **_after_values(cursor)}
        )
        return [
            _item(
                AgendaKind.consent_expiring,
                occurrence=expires_at.isoformat(),
                due_at=expires_at,
                contact_id=target_id,
                name=target_name,
                subject=("introduction", intro_id),
                reason=f"{target_name}'s consent link to meet {requester_name} expires on "
                f"{self.day.date_of(expires_at)}; ask again before it lapses.",
                action="reissue_consent",
            )
            for intro_id, expires_at, target_id, target_name, requester_name in rows
            if target_name is not None and requester_name is not None
        ]

    async def follow_up(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        delay = timedelta(days=self.rules.follow_up_after_days)
        after = None if cursor is None else (cursor[0] - delay, cursor[1])
        rows = await self._rows(
            _follow_up(cursor is not None),
            limit,
            {"made_before": self.day.end - delay, **_after_values(after)},
        )
        items = []
        for row in rows:
            intro_id, made_at, r_outcome, t_outcome, r_id, r_name, t_id, t_name = row
            if r_name is None or t_name is None:
                continue
            due_at = made_at + delay
            sides = [("requester", r_outcome, r_id, r_name, t_name)]
            sides.append(("target", t_outcome, t_id, t_name, r_name))
            for side, outcome, contact_id, name, other in sides:
                if outcome is not None:
                    continue
                items.append(
                    _item(
                        AgendaKind.follow_up,
                        occurrence=side,
                        due_at=due_at,
                        contact_id=contact_id,
                        name=name,
                        subject=("introduction", intro_id),
                        reason=f"Ask {name} how the introduction to {other} went: no "
                        f"feedback from them since it was made on {self.day.date_of(made_at)}.",
                        action="give_feedback",
                        tie=f"{intro_id}:{side}",
                    )
                )
        return items

    async def thanks_owed(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        window = timedelta(days=self.rules.thanks_window_days)
        rows = await self._rows(
            _thanks_owed(cursor is not None),
            limit,
            {"start": self.day.start - window, "end": self.day.end, **_after_values(cursor)},
        )
        return [
            _item(
                AgendaKind.thanks_owed,
                occurrence="",
                due_at=occurred_at,
                contact_id=contact_id,
                name=name,
                subject=("ledger_entry", entry_id),
                reason=f"Thank {name} for the {kind.replace('_', ' ')} you received on "
                f"{self.day.date_of(occurred_at)}.",
                action="send_thanks",
            )
            for entry_id, occurred_at, kind, contact_id, name in rows
            if name is not None
        ]

    async def ready_to_make(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        rows = await self._rows(
            _ready_to_make(cursor is not None),
            limit,
            {"end": self.day.end, **_after_values(cursor)},
        )
        return [
            _item(
                AgendaKind.ready_to_make,
                occurrence="",
                due_at=decided_at,
                contact_id=requester_id,
                name=requester_name,
                subject=("introduction", intro_id),
                reason=f"{target_name} agreed to meet {requester_name}: make the introduction.",
                action="make_introduction",
            )
            for intro_id, decided_at, requester_id, requester_name, target_name in rows
            if requester_name is not None and target_name is not None
        ]

    async def reminder(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        rows = await self._rows(
            _reminder(cursor is not None), limit, {"end": self.day.end, **_after_values(cursor)}
        )
        items = []
        for reminder_id, due_at, note, contact_id, name in rows:
            if name is None:
                continue
            reason = f"Reminder about {name}: {note}" if note else f"Get in touch with {name}."
            items.append(
                _item(
                    AgendaKind.reminder,
                    occurrence=due_at.isoformat(),
                    due_at=due_at,
                    contact_id=contact_id,
                    name=name,
                    subject=("reminder", reminder_id),
                    reason=reason[:1000],
                    action="complete_reminder",
                )
            )
        return items

    async def rebalance(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        # No date makes a balance due: every item of the day sorts at its start, by contact.
        ratio = self.rules.reciprocity_ratio
        if cursor is not None and cursor[0] > self.day.start:
            self.rows_read = 0
            return []
        paged = cursor is not None and cursor[0] >= self.day.start
        after = {"after_tie": cursor[1]} if paged else {}
        rows = await self._rows(_rebalance(paged), limit, {"ratio": ratio, **after})
        return [
            _item(
                AgendaKind.rebalance,
                occurrence=str(withdrawals),
                due_at=self.day.start,
                contact_id=contact_id,
                name=name,
                subject=("contact", contact_id),
                reason=f"You have received more from {name} than you have given back "
                f"(goodwill {goodwill(deposits, withdrawals, ratio)}): give before you ask "
                "again.",
                action="make_deposit",
            )
            for contact_id, name, deposits, withdrawals in rows
        ]

    async def give(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        # Suggestions have no date: every item of the day sorts at its start, best first
        # (the tie carries the score), with an id from the requester, the target and the need.
        if cursor is not None and cursor[0] > self.day.start:
            self.rows_read = 0
            return []
        after = cursor[1] if cursor is not None and cursor[0] == self.day.start else None
        rows = await suggestions.to_give(
            self.reader, owner_id=self.owner_id, after=after, limit=limit
        )
        self.rows_read = len(rows)
        return [
            _item(
                AgendaKind.give,
                occurrence=f"{row['target_id']}\x00{row['need']}",
                due_at=self.day.start,
                contact_id=row["requester_id"],
                name=row["requester_name"],
                subject=("contact", row["requester_id"]),
                reason=row["reason"],
                action="offer_introduction",
                tie=row["tie"],
            )
            for row in rows
        ]

    async def touch_overdue(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        rows = await self._rows(
            _touch_overdue(cursor is not None),
            limit,
            {"end": self.day.end, **_after_values(cursor)},
        )
        return [
            _item(
                AgendaKind.touch_overdue,
                occurrence=due_at.isoformat(),
                due_at=due_at,
                contact_id=contact_id,
                name=name,
                subject=("contact", contact_id),
                reason=f"Time to get in touch with {name}: a touch was due on "
                f"{self.day.date_of(due_at)}.",
                action="log_interaction",
            )
            for contact_id, name, due_at in rows
        ]


@dataclass(frozen=True)
class _Rules:
    """The owner's settings the agenda follows."""

    timezone: str
    follow_up_after_days: int
    thanks_window_days: int
    reciprocity_ratio: int


# The owner's rules (defaults where they never set one) and the version of their hidden
# items (app/agenda/hidden.py): one statement, the first an agenda runs.
_OWNER_STATE = (
    select(
        Owner.agenda_version,
        *(
            func.coalesce(getattr(OwnerSettings, name), DEFAULTS[name]).label(name)
            for name in _Rules.__dataclass_fields__
        ),
    )
    .select_from(Owner)
    .outerjoin(OwnerSettings, col(OwnerSettings.owner_id) == Owner.id)
    .where(Owner.id == bindparam("owner_id"))
)


async def owner_state(reader: Reader, owner_id: str) -> tuple[_Rules, Hidden]:
    """What an agenda of the owner's follows: their rules, and the items they hid."""
    row = (await reader.rows(_OWNER_STATE, {"owner_id": owner_id}))[0]
    rules = _Rules(**{name: row[name] for name in _Rules.__dataclass_fields__})
    hidden = await hidden_items(reader, owner_id=owner_id, version=row["agenda_version"])
    return rules, hidden


async def agenda(
    reader: Reader,
    *,
    owner_id: str,
    on: date | None,
    kinds: Sequence[AgendaKind],
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    now = utcnow()
    rules, hidden = await owner_state(reader, owner_id)
    day = day_bounds(on, rules.timezone, now)
    after_key = None
    if cursor:
        after_key = tuple(decode_cursor(cursor, _CURSOR_KIND, owner_id, (int, datetime, str)))
    compute = _Kinds(reader, owner_id, day, rules, now)
    wanted = set(kinds) or set(RANKS)
    items: list[dict[str, Any]] = []
    for kind, rank in sorted(RANKS.items(), key=lambda pair: pair[1]):
        if kind not in wanted or (after_key is not None and rank < after_key[0]):
            continue
        kind_cursor = after_key[1:] if after_key is not None and rank == after_key[0] else None
        # Enough rows of the kind for the page once the cursor's own row is dropped; four
        # times as many, read again, while hidden items (or rows of contacts no longer
        # live) leave the page short and the kind has more.
        bound = limit + 2
        while True:
            batch = await getattr(compute, kind.value)(kind_cursor, bound)
            found = []
            for item in batch:
                item["id"] = for_owner(owner_id, item["id"])
                if not hidden.hides(item["id"], day.moment) and (
                    after_key is None or item["_key"] > after_key
                ):
                    found.append(item)
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
    return page, next_cursor


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
