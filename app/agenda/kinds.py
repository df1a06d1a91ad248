"""The agenda's kinds: each is one bounded, indexed query (the owner's rows in the kind's
range, in the kind's order, LIMIT what a page can need), never a scan of every contact or
entry, and its rows as items.

Every kind's rows also bring the owner's settings version and hidden-items version, so that
an agenda computed with rules a worker kept can tell whether they still hold
(app/agenda/service.py).
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

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

from app.agenda.hidden import Hidden
from app.agenda.items import CONSENT_WARNING, Day, for_owner, item, item_id
from app.agenda.schemas import AgendaKind
from app.auth.models import Owner
from app.contacts.models import WITHDRAWN, Contact
from app.core.reads import Reader
from app.core.reciprocity import goodwill, is_overdrawn
from app.core.types import UTCDateTime
from app.introductions.models import FEEDBACK_DUE, Introduction
from app.ledger.models import LedgerEntry
from app.network import suggestions
from app.reminders.models import Reminder
from app.settings.models import OwnerSettings


class RulesMoved(Exception):
    """The owner's settings or hidden items changed since the rules an agenda was computed
    with were read."""


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


def _versions() -> tuple[Any, Any]:
    """The owner's settings version (0 before their first change) and hidden-items version,
    as two columns of a kind's rows: each an uncorrelated subquery, run once a statement."""
    settings = select(OwnerSettings.version).where(OwnerSettings.owner_id == bindparam("owner_id"))
    hidden = select(Owner.agenda_version).where(Owner.id == bindparam("owner_id"))
    return (
        func.coalesce(settings.scalar_subquery(), 0).label("settings_version"),
        hidden.scalar_subquery().label("agenda_version"),
    )


# Each kind's statement is built once (with or without a cursor) with parameters for the
# owner, the day and the page, and run by a Reader (app/core/reads.py): building and
# executing a statement through the ORM on every request cost more CPU than the rest of
# GET /v1/agenda.


def _kind(columns: tuple[Any, ...], owner: Any, order: tuple[Any, ...], *where: Any) -> Select[Any]:
    """A kind's statement: the owner's rows that meet `where`, with the versions, in `order`
    (the kind's index), a page's worth."""
    return (
        select(*columns, *_versions())
        .where(owner == bindparam("owner_id"), *where)
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer()))
    )


@cache
def _consent_expiring(paged: bool) -> Select[Any]:
    target = _live_name(Introduction.target_id, "target")
    requester = _live_name(Introduction.requester_id, "requester")
    expires = col(Introduction.consent_expires_at)
    return _kind(
        (
            Introduction.id,
            expires,
            Introduction.target_id,
            target.label("target_name"),
            requester.label("requester_name"),
        ),
        Introduction.owner_id,
        (expires, Introduction.id),
        Introduction.state == "awaiting_consent",
        expires >= _at("start"),
        expires < _at("end"),
        _after(expires, Introduction.id, paged),
    )


@cache
def _follow_up(paged: bool) -> Select[Any]:
    requester = _live_name(Introduction.requester_id, "requester")
    target = _live_name(Introduction.target_id, "target")
    made = col(Introduction.made_at)
    return _kind(
        (
            Introduction.id,
            made,
            Introduction.requester_outcome,
            Introduction.target_outcome,
            Introduction.requester_id,
            requester.label("requester_name"),
            Introduction.target_id,
            target.label("target_name"),
        ),
        Introduction.owner_id,
        (made, Introduction.id),
        # As introductions.service.follow_up_due_from, with that day's end for now;
        # spelled as the partial index's condition.
        text(FEEDBACK_DUE),
        made < _at("made_before"),
        _after(made, Introduction.id, paged),
    )


@cache
def _thanks_owed(paged: bool) -> Select[Any]:
    occurred = col(LedgerEntry.occurred_at)
    reversal, gave = _REVERSAL, _GAVE
    name = _live_name(LedgerEntry.contact_id, "contact")
    return _kind(
        (
            LedgerEntry.id,
            occurred,
            LedgerEntry.kind,
            LedgerEntry.contact_id,
            name.label("name"),
        ),
        LedgerEntry.owner_id,
        (occurred, LedgerEntry.id),
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


@cache
def _ready_to_make(paged: bool) -> Select[Any]:
    requester = _live_name(Introduction.requester_id, "requester")
    target = _live_name(Introduction.target_id, "target")
    decided = col(Introduction.decided_at)
    return _kind(
        (
            Introduction.id,
            decided,
            Introduction.requester_id,
            requester.label("requester_name"),
            target.label("target_name"),
        ),
        Introduction.owner_id,
        (decided, Introduction.id),
        Introduction.state == "consented",
        decided < _at("end"),
        _after(decided, Introduction.id, paged),
    )


@cache
def _reminder(paged: bool) -> Select[Any]:
    due = col(Reminder.due_at)
    name = _live_name(Reminder.contact_id, "contact")
    return _kind(
        (Reminder.id, due, Reminder.note, Reminder.contact_id, name.label("name")),
        Reminder.owner_id,
        (due, Reminder.id),
        col(Reminder.done_at).is_(None),
        due < _at("end"),
        _after(due, Reminder.id, paged),
    )


@cache
def _rebalance(paged: bool) -> Select[Any]:
    ratio = bindparam("ratio", type_=Integer())
    return _kind(
        (
            Contact.id,
            Contact.display_name,
            Contact.ledger_deposits,
            Contact.ledger_withdrawals,
        ),
        Contact.owner_id,
        (Contact.id,),
        text(WITHDRAWN),  # as the partial index's condition
        is_overdrawn(
            goodwill(col(Contact.ledger_deposits), col(Contact.ledger_withdrawals), ratio)
        ),
        col(Contact.id) >= bindparam("after_tie", type_=String()) if paged else true(),
    )


@cache
def _touch_overdue(paged: bool) -> Select[Any]:
    due = col(Contact.due_at)
    return _kind(
        (Contact.id, Contact.display_name, due),
        Contact.owner_id,
        (due, Contact.id),
        due < _at("end"),
        _live(Contact),
        _after(due, Contact.id, paged),
    )


class Kinds:
    """One method per kind: the query, and its rows as items (none for a row whose contact
    is not live, or whose item the owner hid: told before the item is made, as a large
    owner's dismissed items may be most of the rows read). `rows_read` says how many rows
    the last one read: fewer than it asked for means the kind has no more.

    `expected`: the versions (settings, hidden items) the rules were read at, when they may
    be out of date: rows that bring other versions raise RulesMoved, and `confirmed` says
    that some rows brought them."""

    def __init__(
        self,
        reader: Reader,
        owner_id: str,
        day: Day,
        rules: Any,
        now: datetime,
        hidden: Hidden,
        expected: tuple[int, int] | None,
    ) -> None:
        self.reader = reader
        self.owner_id = owner_id
        self.day = day
        self.rules = rules
        self.now = now
        self.hidden = hidden
        self.expected = expected
        self.rows_read = 0
        self.confirmed = False

    async def _rows(
        self, statement: Select[Any], limit: int, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Through the agenda's Reader (the request's, or a session's for the calendar)."""
        values = {"owner_id": self.owner_id, "limit": limit, **params}
        rows = await self.reader.rows(statement, values)
        self.rows_read = len(rows)
        if rows:
            found = (rows[0]["settings_version"], rows[0]["agenda_version"])
            if self.expected is not None and found != self.expected:
                raise RulesMoved
            self.confirmed = True
        # Each row without its last two columns, the versions.
        return [tuple(row.values())[:-2] for row in rows]

    def _shown(self, kind: AgendaKind, subject_id: str, occurrence: str) -> str | None:
        """The item's id, or None when the owner has hidden it (dismissed it, or snoozed it
        past the moment asked about)."""
        value = for_owner(self.owner_id, item_id(kind, subject_id, occurrence))
        return None if self.hidden.hides(value, self.day.moment) else value

    async def consent_expiring(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        # A link already past its expiry has lapsed, whatever the sweep has written.
        window = {"start": max(self.day.start, self.now), "end": self.day.end + CONSENT_WARNING}
        rows = await self._rows(
            _consent_expiring(cursor is not None), limit, {**window, **_after_values(cursor)}
        )
        return [
            item(
                AgendaKind.consent_expiring,
                shown,
                due_at=expires_at,
                contact_id=target_id,
                name=target_name,
                subject=("introduction", intro_id),
                reason=f"{target_name}'s consent link to meet {requester_name} expires on "
                f"{self.day.date_of(expires_at)}; ask again before it lapses.",
                action="reissue_consent",
            )
            for intro_id, expires_at, target_id, target_name, requester_name in rows
            if target_name is not None
            and requester_name is not None
            and (
                shown := self._shown(AgendaKind.consent_expiring, intro_id, expires_at.isoformat())
            )
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
                if (shown := self._shown(AgendaKind.follow_up, intro_id, side)) is None:
                    continue
                items.append(
                    item(
                        AgendaKind.follow_up,
                        shown,
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
            item(
                AgendaKind.thanks_owed,
                shown,
                due_at=occurred_at,
                contact_id=contact_id,
                name=name,
                subject=("ledger_entry", entry_id),
                reason=f"Thank {name} for the {kind.replace('_', ' ')} you received on "
                f"{self.day.date_of(occurred_at)}.",
                action="send_thanks",
            )
            for entry_id, occurred_at, kind, contact_id, name in rows
            if name is not None and (shown := self._shown(AgendaKind.thanks_owed, entry_id, ""))
        ]

    async def ready_to_make(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        rows = await self._rows(
            _ready_to_make(cursor is not None),
            limit,
            {"end": self.day.end, **_after_values(cursor)},
        )
        return [
            item(
                AgendaKind.ready_to_make,
                shown,
                due_at=decided_at,
                contact_id=requester_id,
                name=requester_name,
                subject=("introduction", intro_id),
                reason=f"{target_name} agreed to meet {requester_name}: make the introduction.",
                action="make_introduction",
            )
            for intro_id, decided_at, requester_id, requester_name, target_name in rows
            if requester_name is not None
            and target_name is not None
            and (shown := self._shown(AgendaKind.ready_to_make, intro_id, ""))
        ]

    async def reminder(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        rows = await self._rows(
            _reminder(cursor is not None), limit, {"end": self.day.end, **_after_values(cursor)}
        )
        items = []
        for reminder_id, due_at, note, contact_id, name in rows:
            if name is None:
                continue
            if (shown := self._shown(AgendaKind.reminder, reminder_id, due_at.isoformat())) is None:
                continue
            reason = f"Reminder about {name}: {note}" if note else f"Get in touch with {name}."
            items.append(
                item(
                    AgendaKind.reminder,
                    shown,
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
            item(
                AgendaKind.rebalance,
                shown,
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
            if (shown := self._shown(AgendaKind.rebalance, contact_id, str(withdrawals)))
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
            item(
                AgendaKind.give,
                shown,
                due_at=self.day.start,
                contact_id=row["requester_id"],
                name=row["requester_name"],
                subject=("contact", row["requester_id"]),
                reason=row["reason"],
                action="offer_introduction",
                tie=row["tie"],
            )
            for row in rows
            if (
                shown := self._shown(
                    AgendaKind.give, row["requester_id"], f"{row['target_id']}\x00{row['need']}"
                )
            )
        ]

    async def touch_overdue(self, cursor: Any, limit: int) -> list[dict[str, Any]]:
        rows = await self._rows(
            _touch_overdue(cursor is not None),
            limit,
            {"end": self.day.end, **_after_values(cursor)},
        )
        return [
            item(
                AgendaKind.touch_overdue,
                shown,
                due_at=due_at,
                contact_id=contact_id,
                name=name,
                subject=("contact", contact_id),
                reason=f"Time to get in touch with {name}: a touch was due on "
                f"{self.day.date_of(due_at)}.",
                action="log_interaction",
            )
            for contact_id, name, due_at in rows
            if (shown := self._shown(AgendaKind.touch_overdue, contact_id, due_at.isoformat()))
        ]
