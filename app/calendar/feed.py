"""What a calendar app reads at a feed's URL: the owner's agenda for the next 30 days as
all-day events (RFC 5545), written with `icalendar`.

The items are the agenda's own (app/agenda/service.py `agenda()`): nothing here decides
what is due, so the feed and `GET /v1/agenda` never disagree, and snoozed or dismissed
items stay out of both. Rather than one agenda per day, a few are asked for, each bounded:

- today's, every dated kind: what is due now, `thanks_owed` included (its window closes,
  so only today's agenda has it);
- the last day's, for the kinds that once due stay due until the real thing happens
  (`follow_up`, `ready_to_make`, `reminder`, `touch_overdue`): it holds every item of
  theirs that falls due in between;
- `consent_expiring` every other day: a link is on a day's agenda from two days before it
  lapses, so the agendas of days two apart see every link lapsing in the window (with a
  day to spare, for the days a clock change makes 25 hours long).

`rebalance` and `give` have no date (a balance to restore, an introduction to offer: not
due on any day) and stay in the app.

An item goes on the day it falls due in the owner's `timezone` (a link: the day it lapses),
or today when that is past; an item snoozed until a later day goes on that day. Its `UID`
is the agenda item's id, or for a reminder the reminder's id (a reminder moved to another
day is the same event, moved), so a calendar updates events instead of duplicating them.
At most `MAX_EVENTS` events: with more, the most important kinds first, as the agenda ranks
them (routine touches, the most numerous, are the first left out), and the soonest first
within a kind. Each agenda asked is bounded to as many items.
"""

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cachetools import LRUCache
from icalendar import Calendar, Event
from sqlmodel.ext.asyncio.session import AsyncSession

from app.agenda.items import CONSENT_WARNING, RANKS
from app.agenda.schemas import AgendaKind
from app.agenda.service import agenda, owner_state
from app.calendar.service import OpenedFeed
from app.core.reads import Reader
from app.core.types import utcnow
from app.network.kept import KeptAnswers

HORIZON_DAYS = 30
MAX_EVENTS = 1_000
# The longest body, in characters, for the OpenAPI document. An event is at most about 3,200:
# a summary with a name of up to 200 characters and a description (the item's reason) of up
# to 1,000, each at most doubled by escaping, and folded (3 more every 75 octets, a character
# up to 4 octets); the rest is short fixed lines. The calendar's own lines, with the feed's
# name, stay under 1,000.
MAX_LENGTH = MAX_EVENTS * 4_000 + 1_000
# Kinds with a date, in the agenda's rank order.
UNDATED = (AgendaKind.rebalance, AgendaKind.give)
DATED = tuple(kind for kind in sorted(RANKS, key=RANKS.__getitem__) if kind not in UNDATED)
STAYING = (
    AgendaKind.follow_up,
    AgendaKind.ready_to_make,
    AgendaKind.reminder,
    AgendaKind.touch_overdue,
)
# A day's agenda shows the links lapsing from its start to CONSENT_WARNING after its end.
CONSENT_STEP = CONSENT_WARNING.days
UID_DOMAIN = "goodwill"
PRODID = "-//Goodwill//Agenda calendar feed//EN"
# Serialised events (`_events`): ten feeds of MAX_EVENTS, about 10 MB a process.
_EVENTS: LRUCache[tuple[Any, ...], bytes] = LRUCache(maxsize=10 * MAX_EVENTS)
_EVENTS_LOCK = threading.Lock()
# More events than this to serialise go to a thread.
INLINE_MISSES = 50
SUMMARY = {
    AgendaKind.consent_expiring: "Consent link lapses",
    AgendaKind.follow_up: "Follow up",
    AgendaKind.thanks_owed: "Say thank you",
    AgendaKind.ready_to_make: "Make the introduction",
    AgendaKind.reminder: "Reminder",
    AgendaKind.touch_overdue: "Get in touch",
}


def _days_asked(today: date, last: date) -> Iterator[tuple[date, tuple[AgendaKind, ...]]]:
    """The agendas that together hold every dated item of [today, last]."""
    yield today, DATED
    day = today + timedelta(days=CONSENT_STEP)
    while day < last:
        yield day, (AgendaKind.consent_expiring,)
        day += timedelta(days=CONSENT_STEP)
    yield last, (AgendaKind.consent_expiring, *STAYING)


@dataclass(frozen=True)
class View:
    """The feed's items, each with its `day`, soonest first, as of `today` in `zone`."""

    items: list[dict[str, Any]]
    today: date
    zone: ZoneInfo


async def view(session: AsyncSession, *, owner_id: str) -> View:
    now = utcnow()
    reader = Reader(session)
    state = await owner_state(reader, owner_id)
    zone = ZoneInfo(state.rules.timezone)
    today = now.astimezone(zone).date()
    last = today + timedelta(days=HORIZON_DAYS - 1)
    found: dict[str, dict[str, Any]] = {}
    # Kinds ranked here or after need no more asking: today's agenda alone fills the feed.
    cut = len(RANKS)
    for on, asked in _days_asked(today, last):
        kinds = tuple(kind for kind in asked if RANKS[kind] < cut)
        if not kinds:
            continue
        # A whole feed's worth from each: most important kinds first, as the agenda ranks.
        page, more = await agenda(
            reader, owner_id=owner_id, on=on, kinds=kinds, limit=MAX_EVENTS, cursor=None
        )
        for item in page:
            found.setdefault(item["id"], item)
        if on == today and more is not None:
            # Cut within a kind: its items due later (or ranked after it) cannot beat the
            # ones today already has, so a large owner's touches are read once.
            cut = RANKS[page[-1]["kind"]]
    # An item the agenda of a later day shows may be snoozed until then: on that day.
    dated = []
    for item in found.values():
        day = max(today, item["due_at"].astimezone(zone).date())
        snoozed = state.hidden.snoozed_until(item["id"], now)
        if snoozed is not None:
            day = max(day, snoozed.astimezone(zone).date())
        if day <= last:
            dated.append({**item, "day": day})
    # Too many: the routine touches, ranked last and the most numerous, are left out first;
    # within a kind, as the agenda orders it (by due time, then subject).
    dated.sort(key=lambda item: (RANKS[item["kind"]], item["day"], *_order(item)))
    kept = sorted(dated[:MAX_EVENTS], key=lambda item: (item["day"], RANKS[item["kind"]]))
    return View(kept, today, zone)


def _order(item: dict[str, Any]) -> tuple[Any, ...]:
    # The contact tells a follow-up's two sides apart.
    return item["due_at"], item["subject"]["id"], item["contact"]["id"]


def uid(item: dict[str, Any]) -> str:
    subject = item["subject"]
    key = subject["id"] if item["kind"] == AgendaKind.reminder else item["id"]
    return f"{key}@{UID_DOMAIN}"


def _key(item: dict[str, Any], stamp: datetime) -> tuple[Any, ...]:
    """What an item's VEVENT is made of."""
    summary = f"{SUMMARY[item['kind']]}: {item['contact']['display_name']}"
    return (uid(item), stamp, item["day"], summary, item["reason"], item["kind"])


def _serialise(keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], bytes]:
    blobs = {}
    for key in keys:
        uid_, stamp, day, summary, description, kind = key
        event = Event()
        event.add("uid", uid_)
        event.add("dtstamp", stamp)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", summary)
        event.add("description", description)
        event.add("categories", [kind])
        # A task to do that day, not an appointment: it does not make the owner busy.
        event.add("transp", "TRANSPARENT")
        blobs[key] = event.to_ical()
    with _EVENTS_LOCK:
        _EVENTS.update(blobs)
    return blobs


async def _events(keys: list[tuple[Any, ...]]) -> list[bytes]:
    """Each VEVENT, serialised once per process while it stays the same: `icalendar` takes
    about 0.3 ms an event (it escapes and folds character by character), and a calendar app
    fetches the same events again and again. Many new ones are serialised in a thread, so
    that the event loop goes on serving other requests meanwhile."""
    with _EVENTS_LOCK:
        blobs = {key: blob for key in keys if (blob := _EVENTS.get(key)) is not None}
    missing = [key for key in keys if key not in blobs]
    if len(missing) > INLINE_MISSES:
        blobs.update(await asyncio.to_thread(_serialise, missing))
    elif missing:
        blobs.update(_serialise(missing))
    return [blobs[key] for key in keys]


def _document(feed: OpenedFeed, view: View, events: list[bytes]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Goodwill: {feed.name}")
    calendar.add("x-wr-timezone", view.zone.key)
    # How often to fetch again, for the apps that read it (RFC 7986, and Outlook's name).
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    # The events go where `icalendar` puts components: after the calendar's properties.
    head, end = calendar.to_ical().rsplit(b"END:VCALENDAR", 1)
    return head + b"".join(events) + b"END:VCALENDAR" + end


# Bodies each worker keeps, by feed, while the owner's data is unchanged (app/network/kept.py)
# and for at most a minute: building one reads fifteen agendas of up to 1,000 items (tens of
# megabytes while it runs), and apps polling one feed together share one build. The minute
# is the most a body can lag behind the clock alone (a snooze ending, a new day); calendar
# apps poll every quarter of an hour or less often.
_bodies: KeptAnswers[bytes] = KeptAnswers(most=8, seconds=60.0)


async def calendar_of(session: AsyncSession, feed: OpenedFeed) -> bytes:
    """The feed's body, text/calendar in UTF-8."""
    question = (feed.id, MAX_EVENTS, HORIZON_DAYS)
    return await _bodies.get(Reader(session), feed.owner_id, question, lambda: _body(session, feed))


async def _body(session: AsyncSession, feed: OpenedFeed) -> bytes:
    seen = await view(session, owner_id=feed.owner_id)
    # Stamped with the start of the owner's day, not the moment of the fetch: the same data
    # on the same day is the same body, and the same ETag.
    stamp = datetime.combine(seen.today, time(0), seen.zone).astimezone(UTC)
    events = await _events([_key(item, stamp) for item in seen.items])
    return _document(feed, seen, events)
