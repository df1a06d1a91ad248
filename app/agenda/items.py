"""What an agenda item is: its kind's rank, its id, the day it is asked about.

Item ids: `ag_` + the first 20 hex digits of SHA-256 over kind, subject id and what makes
this occurrence due: a contact's `next_touch_due_at`, a reminder's `due_at`, a consent
link's expiry, the side of an introduction, a contact's withdrawals total. So an item keeps
its id from day to day, and a new occurrence (a touch due again after a new interaction,
a reissued link, a new `received` entry) is a new item: a snooze or a dismissal holds for
the occurrence it was given to. Six more hex digits check the owner (`for_owner`).
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.agenda.schemas import AgendaKind

# The order of the kinds on the agenda (app/agenda/service.py says why).

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


def item(
    kind: AgendaKind,
    id: str,
    *,
    due_at: datetime,
    contact_id: str,
    name: str,
    subject: tuple[str, str],
    reason: str,
    action: str,
    tie: str | None = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "kind": kind.value,
        "due_at": due_at,
        "contact": {"id": contact_id, "display_name": name},
        "subject": {"type": subject[0], "id": subject[1]},
        "reason": reason,
        "suggested_action": action,
        "_key": (RANKS[kind], due_at, tie or subject[1]),
    }
