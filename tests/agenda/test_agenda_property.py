"""GET /v1/agenda against an oracle: for a random small world of contacts, interactions,
ledger entries, reminders and settings, the agenda of a day holds exactly the items the
contract's rules derive from that data (no false items, none missing), page after page.

The oracle is plain Python over what the test sent (and the timestamps the API answered),
written from API.md's rules, not from app/agenda."""

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import create_contact, make_actor

# Everything the world holds happens before BASE, which is well in the past: the API refuses
# a future `occurred_at`. Whole seconds, so what is sent is what is stored.
BASE = (datetime.now(UTC) - timedelta(days=60)).replace(minute=0, second=0, microsecond=0)
HOUR = timedelta(hours=1)
ZONES = ["UTC", "Pacific/Auckland", "America/Los_Angeles"]

_contact = st.fixed_dictionaries(
    {
        "cadence_days": st.none() | st.integers(1, 20),
        "connected_hours_ago": st.none() | st.integers(0, 40 * 24),
    }
)
_world = st.fixed_dictionaries(
    {
        "timezone": st.sampled_from(ZONES),
        "ratio": st.integers(1, 4),
        "window": st.integers(1, 10),
        "contacts": st.lists(_contact, min_size=2, max_size=4),
        # (contact index, hours before BASE)
        "interactions": st.lists(st.tuples(st.integers(0, 3), st.integers(0, 30 * 24)), max_size=5),
        # (contact index, direction, weight, hours before BASE)
        "entries": st.lists(
            st.tuples(
                st.integers(0, 3),
                st.sampled_from(["gave", "received"]),
                st.integers(1, 5),
                st.integers(0, 10 * 24),
            ),
            max_size=8,
        ),
        # (contact index, hours from BASE, either side, done)
        "reminders": st.lists(
            st.tuples(st.integers(0, 3), st.integers(-30 * 24, 30 * 24), st.booleans()),
            max_size=4,
        ),
        # The day asked about, in days from BASE's date: before, among and after the data.
        "on": st.integers(-12, 30),
        "limit": st.integers(1, 10),
    }
)


def _at(value: datetime) -> str:
    return value.isoformat()


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def expected(world: dict[str, Any], made: dict[str, Any], on: date) -> set[tuple[str, str]]:
    """(kind, subject id) of every item the contract puts on the agenda of `on`."""
    zone = ZoneInfo(world["timezone"])
    start = datetime.combine(on, time(0), zone).astimezone(UTC)
    end = datetime.combine(on + timedelta(days=1), time(0), zone).astimezone(UTC)
    items: set[tuple[str, str]] = set()

    # reminder: due on or before that day and not done.
    for reminder in made["reminders"]:
        if not reminder["done"] and reminder["due_at"] < end:
            items.add(("reminder", reminder["id"]))

    for contact in made["contacts"]:
        # touch_overdue: last interaction, else connected_at, else created_at, + cadence.
        if contact["cadence_days"] is not None:
            touches = [at for cid, at in made["interactions"] if cid == contact["id"]]
            anchor = max(touches) if touches else contact["connected_at"] or contact["created_at"]
            if anchor + timedelta(days=contact["cadence_days"]) < end:
                items.add(("touch_overdue", contact["id"]))
        # rebalance: goodwill = deposits - ratio x withdrawals below zero.
        mine = [e for e in made["entries"] if e["contact_id"] == contact["id"]]
        deposits = sum(e["weight"] for e in mine if e["direction"] == "gave")
        withdrawals = sum(e["weight"] for e in mine if e["direction"] == "received")
        if deposits - world["ratio"] * withdrawals < 0:
            items.add(("rebalance", contact["id"]))

    # thanks_owed: a `received` entry within thanks_window_days before that day (the day
    # itself included), with no later `gave` entry to the same contact.
    window = timedelta(days=world["window"])
    for entry in made["entries"]:
        if entry["direction"] != "received":
            continue
        if not start - window <= entry["occurred_at"] < end:
            continue
        thanked = any(
            other["direction"] == "gave"
            and other["contact_id"] == entry["contact_id"]
            and other["occurred_at"] > entry["occurred_at"]
            for other in made["entries"]
        )
        if not thanked:
            items.add(("thanks_owed", entry["id"]))
    return items


async def _ok(response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def build(client, actor, world: dict[str, Any]) -> dict[str, Any]:
    """Create the world through the API; what the oracle needs, with the API's timestamps."""
    headers = actor.headers
    await _ok(
        await client.patch(
            "/v1/settings",
            json={
                "timezone": world["timezone"],
                "reciprocity_ratio": world["ratio"],
                "thanks_window_days": world["window"],
            },
            headers=headers,
        )
    )
    made: dict[str, Any] = {"contacts": [], "interactions": [], "entries": [], "reminders": []}
    for n, spec in enumerate(world["contacts"]):
        hours = spec["connected_hours_ago"]
        body = await create_contact(
            client,
            actor,
            display_name=f"Contact {n}",
            cadence_days=spec["cadence_days"],
            connected_at=None if hours is None else _at(BASE - hours * HOUR),
            external_refs={},
        )
        made["contacts"].append(
            {
                "id": body["id"],
                "cadence_days": spec["cadence_days"],
                "connected_at": body["connected_at"] and _parse(body["connected_at"]),
                "created_at": _parse(body["created_at"]),
            }
        )
    ids = [contact["id"] for contact in made["contacts"]]

    def contact_of(index: int) -> str:
        return ids[index % len(ids)]

    for index, hours in world["interactions"]:
        at = BASE - hours * HOUR
        await _ok(
            await client.post(
                f"/v1/contacts/{contact_of(index)}/interactions",
                json={"kind": "call", "occurred_at": _at(at)},
                headers=headers,
            )
        )
        made["interactions"].append((contact_of(index), at))
    for index, direction, weight, hours in world["entries"]:
        at = BASE - hours * HOUR
        entry = await _ok(
            await client.post(
                "/v1/ledger",
                json={
                    "contact_id": contact_of(index),
                    "direction": direction,
                    "kind": "advice",
                    "weight": weight,
                    "occurred_at": _at(at),
                },
                headers=headers,
            )
        )
        made["entries"].append(
            {
                "id": entry["id"],
                "contact_id": contact_of(index),
                "direction": direction,
                "weight": weight,
                "occurred_at": at,
            }
        )
    for index, hours, done in world["reminders"]:
        at = BASE + hours * HOUR
        reminder = await _ok(
            await client.post(
                "/v1/reminders",
                json={"contact_id": contact_of(index), "due_at": _at(at), "note": "Call"},
                headers=headers,
            )
        )
        if done:
            await _ok(
                await client.post(f"/v1/reminders/{reminder['id']}/done", json={}, headers=headers)
            )
        made["reminders"].append({"id": reminder["id"], "due_at": at, "done": done})
    return made


async def whole_agenda(client, actor, on: date, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        params: dict[str, Any] = {"on": on.isoformat(), "limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = await _ok(await client.get("/v1/agenda", params=params, headers=actor.headers))
        items += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("the agenda's pages never end")


async def test_the_agenda_shows_exactly_what_the_data_justifies(app, client):
    loop = asyncio.get_running_loop()

    def run(coro):  # Hypothesis drives from a worker thread; the database lives on this loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(_world)
    def check(world: dict[str, Any]) -> None:
        actor = run(make_actor(app, "agenda"))  # a fresh owner: examples do not mix
        made = run(build(client, actor, world))
        on = BASE.date() + timedelta(days=world["on"])
        items = run(whole_agenda(client, actor, on, world["limit"]))
        ids = [item["id"] for item in items]
        assert len(ids) == len(set(ids)), "an item on two pages"
        shown = {(item["kind"], item["subject"]["id"]) for item in items}
        assert len(shown) == len(items), items
        assert shown == expected(world, made, on), (on, items)

    await asyncio.to_thread(check)
