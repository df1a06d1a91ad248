"""Calendar feeds through the API, and what a calendar app sees at a feed's URL: the agenda's
dated items and open reminders as all-day events in the owner's timezone, with UIDs that
hold from fetch to fetch; revoked and unknown URLs answer 404; one owner's feed never shows
another's data."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from app.calendar import feed as calendar_feed
from app.core.ratelimit import KeyRateLimiter
from tests.factories import create_contact, create_introduction, create_pair

AUCKLAND = ZoneInfo("Pacific/Auckland")  # UTC+13 in December: its days are not UTC's
NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)


@contextmanager
def swapped(state: Any, name: str, value: Any) -> Iterator[None]:
    """The app's `state.<name>` replaced for a while (monkeypatch would delete it after:
    Starlette's State keeps its attributes outside `__dict__`)."""
    old = getattr(state, name)
    setattr(state, name, value)
    try:
        yield
    finally:
        setattr(state, name, old)


def today(zone: ZoneInfo = AUCKLAND) -> date:
    return datetime.now(UTC).astimezone(zone).date()


async def post(client, actor, url, body=None, status=(200, 201)) -> dict:
    response = await client.post(url, json=body if body is not None else {}, headers=actor.headers)
    assert response.status_code in status, response.text
    return response.json()


async def in_auckland(client, actor, **rules) -> None:
    response = await client.patch(
        "/v1/settings", json={"timezone": "Pacific/Auckland", **rules}, headers=actor.headers
    )
    assert response.status_code == 200, response.text


async def a_contact(client, actor, name: str, **overrides) -> dict:
    # No cadence unless asked: a touch falling due would add events the test did not make.
    fields = {"channels": [], "external_refs": {}, "cadence_days": None, **overrides}
    return await create_contact(client, actor, display_name=name, **fields)


async def overdue_contact(client, actor, name: str) -> dict:
    """A contact whose 30-day cadence ran out long ago."""
    return await a_contact(
        client, actor, name, cadence_days=30, connected_at=(NOW - 100 * DAY).isoformat()
    )


async def remind(client, actor, contact_id: str, due: datetime, note: str | None = None) -> dict:
    body = {"contact_id": contact_id, "due_at": due.isoformat(), "note": note}
    return await post(client, actor, "/v1/reminders", body)


async def new_feed(client, actor, name: str = "Phone") -> dict:
    response = await client.post("/v1/calendar-feeds", json={"name": name}, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def fetch(client, url: str, **headers):
    """GET the feed as a calendar app does: no API key."""
    return await client.get(url, headers=headers)


def events(response) -> dict[str, dict]:
    """The VEVENTs of a 200 answer by UID, as a calendar app parses them."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    found = {}
    for event in calendar.walk("VEVENT"):
        start = event.decoded("dtstart")
        # All-day: a DATE, not a DATE-TIME.
        assert type(start) is date, start
        assert event.decoded("dtend") == start + DAY
        found[str(event["uid"])] = {
            "day": start,
            "summary": str(event["summary"]),
            "description": str(event["description"]),
            "kind": event["categories"].cats[0],
        }
    return found


async def agenda_ids(client, actor, **params) -> dict[str, str]:
    """The agenda's item ids by subject id."""
    response = await client.get("/v1/agenda", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return {item["subject"]["id"]: item["id"] for item in response.json()["data"]}


async def test_a_feed_url_is_shown_once_and_never_listed(client, owner):
    created = await client.post(
        "/v1/calendar-feeds", json={"name": "  My phone "}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    feed = created.json()
    assert set(feed) == {"id", "name", "url", "created_at"}
    assert feed["name"] == "My phone"
    assert created.headers["location"] == f"/v1/calendar-feeds/{feed['id']}"
    # Absolute, from the request's (allowed) host when no public base URL is set.
    assert feed["url"].startswith("http://test/calendar/") and feed["url"].endswith(".ics")
    token = feed["url"].removeprefix("http://test/calendar/").removesuffix(".ics")
    assert len(token) >= 43

    listed = await client.get("/v1/calendar-feeds", headers=owner.headers)
    assert listed.status_code == 200
    assert listed.json() == {
        "data": [{"id": feed["id"], "name": "My phone", "created_at": feed["created_at"]}],
        "next_cursor": None,
    }
    one = await client.get(created.headers["location"], headers=owner.headers)
    assert one.status_code == 200
    assert one.json() == listed.json()["data"][0]
    assert one.headers["etag"] == created.headers["etag"]
    # Nor in the change feed: other clients read it.
    changes = await client.get(
        "/v1/events", params={"type": "calendar_feed.*"}, headers=owner.headers
    )
    [event] = changes.json()["data"]
    assert event["type"] == "calendar_feed.created" and event["resource_id"] == feed["id"]
    assert event["data"] == listed.json()["data"][0]
    for answer in (listed, one, changes):
        assert token not in answer.text


async def test_the_url_is_built_from_the_public_base_url(app, client, owner):
    public = app.state.settings.model_copy(
        update={"public_base_url": "https://goodwill.example.com/"}
    )
    with swapped(app.state, "settings", public):
        feed = await new_feed(client, owner)
    assert feed["url"].startswith("https://goodwill.example.com/calendar/")
    path = feed["url"].removeprefix("https://goodwill.example.com")
    assert (await fetch(client, path)).status_code == 200


async def test_events_fall_on_their_day_in_the_owners_timezone(client, owner):
    await in_auckland(client, owner)
    ada = await overdue_contact(client, owner, "Ada Lovelace")
    grace = await a_contact(client, owner, "Grace Hopper")
    # 08:00 in Auckland three days from now: the evening before in UTC.
    day = today() + 3 * DAY
    due = datetime.combine(day, time(8), AUCKLAND)
    assert due.astimezone(UTC).date() == day - DAY
    planned = await remind(client, owner, grace["id"], due, "Call after her launch")
    late = await remind(client, owner, grace["id"], NOW - 2 * DAY)

    feed = await new_feed(client, owner)
    found = events(await fetch(client, feed["url"]))

    touch_id = (await agenda_ids(client, owner, kind="touch_overdue"))[ada["id"]]
    assert found == {
        f"{touch_id}@goodwill": {
            "day": today(),  # overdue: today
            "summary": "Get in touch: Ada Lovelace",
            "description": found[f"{touch_id}@goodwill"]["description"],
            "kind": "touch_overdue",
        },
        f"{planned['id']}@goodwill": {
            "day": day,
            "summary": "Reminder: Grace Hopper",
            "description": "Reminder about Grace Hopper: Call after her launch",
            "kind": "reminder",
        },
        f"{late['id']}@goodwill": {
            "day": today(),
            "summary": "Reminder: Grace Hopper",
            "description": "Get in touch with Grace Hopper.",
            "kind": "reminder",
        },
    }
    assert "Ada Lovelace" in found[f"{touch_id}@goodwill"]["description"]


async def test_uids_hold_across_fetches_and_items_leave_when_done(client, owner):
    ada = await overdue_contact(client, owner, "Ada Lovelace")
    grace = await a_contact(client, owner, "Grace Hopper")
    reminder = await remind(client, owner, grace["id"], NOW + 4 * DAY)
    feed = await new_feed(client, owner)

    first = await fetch(client, feed["url"])
    second = await fetch(client, feed["url"])
    assert events(first) == events(second)
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    # A calendar app asking again with what it has is told nothing changed.
    unchanged = await fetch(client, feed["url"], **{"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    uid = f"{reminder['id']}@goodwill"
    assert events(first)[uid]["day"] == (NOW + 4 * DAY).date()

    # A reminder moved is the same event, moved: its UID is the reminder's.
    moved = await client.patch(
        f"/v1/reminders/{reminder['id']}",
        json={"due_at": (NOW + 6 * DAY).isoformat()},
        headers=owner.headers,
    )
    assert moved.status_code == 200, moved.text
    after_move = await fetch(client, feed["url"], **{"If-None-Match": first.headers["etag"]})
    assert events(after_move)[uid]["day"] == (NOW + 6 * DAY).date()
    assert after_move.headers["etag"] != first.headers["etag"]

    await post(client, owner, f"/v1/reminders/{reminder['id']}/done")
    await post(
        client, owner, f"/v1/contacts/{ada['id']}/interactions", {"kind": "call", "summary": "Hi"}
    )
    assert events(await fetch(client, feed["url"])) == {}


async def test_snoozed_items_move_and_dismissed_ones_leave(client, owner):
    ada = await overdue_contact(client, owner, "Ada Lovelace")
    grace = await overdue_contact(client, owner, "Grace Hopper")
    ids = await agenda_ids(client, owner)
    feed = await new_feed(client, owner)
    assert {e["day"] for e in events(await fetch(client, feed["url"])).values()} == {
        today(ZoneInfo("UTC"))
    }

    until = NOW + 5 * DAY
    await post(client, owner, f"/v1/agenda/{ids[ada['id']]}/snooze", {"until": until.isoformat()})
    await post(client, owner, f"/v1/agenda/{ids[grace['id']]}/dismiss")
    found = events(await fetch(client, feed["url"]))
    assert list(found) == [f"{ids[ada['id']]}@goodwill"]
    assert found[f"{ids[ada['id']]}@goodwill"]["day"] == until.date()

    # Snoozed past the feed's 30 days: not in it.
    await post(
        client,
        owner,
        f"/v1/agenda/{ids[ada['id']]}/snooze",
        {"until": (NOW + 45 * DAY).isoformat()},
    )
    assert events(await fetch(client, feed["url"])) == {}


async def test_introductions_and_thanks_come_on_their_days(client, owner):
    await in_auckland(client, owner, consent_ttl_days=11, follow_up_after_days=9)
    requester, target = await create_pair(client, owner)
    waiting = await create_introduction(client, owner, requester["id"], target["id"])
    consent = await post(client, owner, f"/v1/introductions/{waiting['id']}/consent-request")
    expires = datetime.fromisoformat(consent["consent_expires_at"])
    other = await a_contact(client, owner, "Olga Other")
    made = await create_introduction(client, owner, other["id"], target["id"])
    url = f"/v1/introductions/{made['id']}"
    await post(client, owner, f"{url}/consent", {"decision": "accept", "evidence": "Yes"})
    made_at = datetime.fromisoformat((await post(client, owner, f"{url}/make"))["made_at"])
    helper = await a_contact(client, owner, "Hal Helper")
    await post(
        client,
        owner,
        "/v1/ledger",
        {"contact_id": helper["id"], "direction": "received", "kind": "advice", "weight": 2},
    )
    feed = await new_feed(client, owner)

    found = events(await fetch(client, feed["url"]))
    by_kind = sorted((e["kind"], e["day"], e["summary"]) for e in found.values())
    lapses = expires.astimezone(AUCKLAND).date()
    follow_up_day = (made_at + 9 * DAY).astimezone(AUCKLAND).date()
    assert by_kind == [
        # Eleven days ahead: on no agenda before the ninth day, yet in the feed.
        ("consent_expiring", lapses, "Consent link lapses: Theo Target"),
        ("follow_up", follow_up_day, "Follow up: Olga Other"),
        ("follow_up", follow_up_day, "Follow up: Theo Target"),
        ("thanks_owed", today(), "Say thank you: Hal Helper"),
    ]


async def test_at_most_max_events_the_most_important_first(client, owner, monkeypatch):
    monkeypatch.setattr(calendar_feed, "MAX_EVENTS", 3)
    await overdue_contact(client, owner, "Ada Lovelace")
    grace = await a_contact(client, owner, "Grace Hopper")
    due = await remind(client, owner, grace["id"], NOW - DAY)
    later = [await remind(client, owner, grace["id"], NOW + n * DAY) for n in (3, 2)]
    feed = await new_feed(client, owner)
    found = events(await fetch(client, feed["url"]))
    # Planned reminders, even next week's, before a routine touch due today.
    assert set(found) == {f"{r['id']}@goodwill" for r in [due, *later]}

    monkeypatch.setattr(calendar_feed, "MAX_EVENTS", 2)
    found = events(await fetch(client, feed["url"]))
    # Within a kind, the soonest.
    assert set(found) == {f"{due['id']}@goodwill", f"{later[1]['id']}@goodwill"}


async def test_revoked_and_unknown_urls_are_404(client, owner):
    feed = await new_feed(client, owner)
    assert (await fetch(client, feed["url"])).status_code == 200
    deleted = await client.delete(f"/v1/calendar-feeds/{feed['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    for url in (
        feed["url"],
        "/calendar/" + "A" * 43 + ".ics",  # the shape of a token, of no feed
        "/calendar/not-a-token.ics",
        "/calendar/" + "A" * 64 + ".ics",
    ):
        gone = await fetch(client, url)
        assert gone.status_code == 404, url
        assert gone.headers["content-type"] == "application/problem+json"
        assert gone.json()["type"].endswith("calendar-feed-not-found")
    assert (await client.get("/v1/calendar-feeds", headers=owner.headers)).json()["data"] == []
    again = await client.get(f"/v1/calendar-feeds/{feed['id']}", headers=owner.headers)
    assert again.status_code == 404
    changes = await client.get(
        "/v1/events", params={"type": "calendar_feed.deleted"}, headers=owner.headers
    )
    [event] = changes.json()["data"]
    assert event["resource_id"] == feed["id"] and "url" not in event["data"]


async def test_one_owners_feed_never_shows_anothers_data(client, owner, other_owner):
    mine = await overdue_contact(client, owner, "Ada Lovelace")
    await remind(client, owner, mine["id"], NOW)
    theirs = await overdue_contact(client, other_owner, "Zed Stranger")
    their_reminder = await remind(client, other_owner, theirs["id"], NOW, "Secret plan")
    my_feed = await new_feed(client, owner)
    their_feed = await new_feed(client, other_owner)

    my_view = await fetch(client, my_feed["url"])
    assert len(events(my_view)) == 2
    for leak in ("Zed Stranger", "Secret plan", theirs["id"], their_reminder["id"]):
        assert leak not in my_view.text
    assert "Ada Lovelace" not in (await fetch(client, their_feed["url"])).text

    # Another owner's feed does not exist for me: not to read, nor to revoke.
    for method in ("GET", "DELETE"):
        response = await client.request(
            method, f"/v1/calendar-feeds/{their_feed['id']}", headers=owner.headers
        )
        assert response.status_code == 404
        assert response.json()["type"].endswith("calendar-feed-not-found")
    assert (await fetch(client, their_feed["url"])).status_code == 200
    listed = await client.get("/v1/calendar-feeds", headers=owner.headers)
    assert [f["id"] for f in listed.json()["data"]] == [my_feed["id"]]


async def test_a_bad_name_is_a_problem(client, owner):
    for body, field in (
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 7}, "name"),
        ({"name": "Phone", "url": "https://evil.example"}, "url"),
    ):
        response = await client.post("/v1/calendar-feeds", json=body, headers=owner.headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await client.get("/v1/calendar-feeds", headers=owner.headers)).json()["data"] == []


async def test_a_feed_is_rate_limited_by_its_url(app, client, owner):
    feed = await new_feed(client, owner)
    other = await new_feed(client, owner, "Tablet")
    strict = app.state.settings.model_copy(update={"rate_limit": "2/minute"})
    with swapped(app.state, "rate_limiter", KeyRateLimiter(strict)):
        for _ in range(2):
            allowed = await fetch(client, feed["url"])
            assert allowed.status_code == 200
            assert allowed.headers["ratelimit-limit"] == "2"
        refused = await fetch(client, feed["url"])
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        # Each feed counts on its own.
        assert (await fetch(client, other["url"])).status_code == 200


async def test_archived_and_erased_contacts_leave_the_feed(client, owner):
    ada = await overdue_contact(client, owner, "Ada Lovelace")
    grace = await a_contact(client, owner, "Grace Hopper")
    await remind(client, owner, grace["id"], NOW + DAY, "Lunch")
    feed = await new_feed(client, owner)
    assert len(events(await fetch(client, feed["url"]))) == 2

    archived = await client.delete(f"/v1/contacts/{ada['id']}", headers=owner.headers)
    assert archived.status_code in (200, 204), archived.text
    erased = await client.delete(
        f"/v1/contacts/{grace['id']}", params={"erase": "true"}, headers=owner.headers
    )
    assert erased.status_code in (200, 204), erased.text
    after = await fetch(client, feed["url"])
    assert events(after) == {}
    assert "Ada" not in after.text and "Grace" not in after.text


async def test_webhooks_may_subscribe_to_feed_events(client, owner):
    response = await client.post(
        "/v1/webhooks",
        json={"url": "https://hooks.example.com/cal", "events": ["calendar_feed.*"]},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["events"] == ["calendar_feed.*"]
