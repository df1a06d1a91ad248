"""The change feed: every change, in commit order, paged by a cursor that never loses one."""

import asyncio

import pytest
from sqlalchemy import insert, text
from sqlmodel import select

from app.auth import service as auth
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.core.outbox import Event, record_event
from app.core.types import new_id, utcnow
from app.core.unit_of_work import commit, roll_back
from app.events.schemas import EVENT_TYPES
from app.introductions.workflow import EVENT_TYPES as INTRODUCTION_EVENT_TYPES
from tests.factories import Actor, create_contact, create_introduction, create_pair

FEED_KEYS = {"id", "type", "resource", "resource_id", "occurred_at", "data"}


async def read_all(client, actor: Actor, after: str | None = None, limit: int = 200) -> tuple:
    """Every event after `after`, page by page, and the cursor to poll from next."""
    events: list[dict] = []
    for _ in range(100):
        params = {"limit": limit, **({"cursor": after} if after else {})}
        page = await client.get("/v1/events", params=params, headers=actor.headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["next_cursor"], "next_cursor is always given"
        events += body["data"]
        if not body["data"]:
            return events, body["next_cursor"]
        after = body["next_cursor"]
    pytest.fail("the feed never ran dry")


async def test_every_change_is_in_the_feed_in_order(client, owner):
    contact = await create_contact(client, owner)
    await client.post(
        f"/v1/contacts/{contact['id']}/interactions",
        json={"kind": "call", "summary": "Caught up"},
        headers=owner.headers,
    )
    entry = await client.post(
        "/v1/ledger",
        json={"contact_id": contact["id"], "direction": "gave", "kind": "advice", "weight": 1},
        headers=owner.headers,
    )
    await client.patch(
        f"/v1/contacts/{contact['id']}", json={"title": "Countess"}, headers=owner.headers
    )
    await client.delete(f"/v1/contacts/{contact['id']}", headers=owner.headers)

    events, _ = await read_all(client, owner)
    # The owner's two keys came first (tests/factories.py makes them through the service).
    assert [e["type"] for e in events] == [
        "api_key.created",
        "api_key.created",
        "contact.created",
        "interaction.created",
        "ledger_entry.created",
        "contact.updated",
        "contact.archived",
    ]
    for event in events:
        assert set(event) == FEED_KEYS
        assert event["id"].startswith("ev_")
    by_type = {e["type"]: e for e in events}
    assert by_type["contact.created"]["resource"] == "contact"
    assert by_type["contact.created"]["resource_id"] == contact["id"]
    assert by_type["contact.created"]["data"]["display_name"] == "Ada Lovelace"
    assert by_type["contact.updated"]["data"]["title"] == "Countess"
    assert by_type["ledger_entry.created"]["resource_id"] == entry.json()["id"]
    assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)


async def test_next_cursor_is_given_on_the_last_page_so_a_client_can_poll(client, owner):
    events, cursor = await read_all(client, owner, limit=1)
    # Polling an up-to-date cursor: nothing new, the same cursor back.
    again = await client.get("/v1/events", params={"after": cursor}, headers=owner.headers)
    assert again.json() == {"data": [], "next_cursor": cursor}
    contact = await create_contact(client, owner)
    polled = await client.get("/v1/events", params={"after": cursor}, headers=owner.headers)
    assert [(e["type"], e["resource_id"]) for e in polled.json()["data"]] == [
        ("contact.created", contact["id"])
    ]
    assert polled.json()["next_cursor"] != cursor
    assert len(events) == 2  # the owner's keys


async def test_paging_while_writes_continue_sees_every_event_once(client, owner):
    seen: list[str] = []
    cursor = None
    for round_ in range(6):
        for n in range(3):
            await create_contact(client, owner, display_name=f"R{round_}N{n}", external_refs={})
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/events", params=params, headers=owner.headers)).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
    rest, _ = await read_all(client, owner, after=cursor, limit=5)
    seen += [e["id"] for e in rest]
    everything, _ = await read_all(client, owner)
    assert seen == [e["id"] for e in everything]
    assert len(seen) == len(set(seen)) == 2 + 18


async def test_the_feed_shows_only_the_owners_events(client, owner, other_owner):
    await create_contact(client, other_owner)
    mine, _ = await read_all(client, owner)
    theirs, _ = await read_all(client, other_owner)
    assert {e["id"] for e in mine}.isdisjoint({e["id"] for e in theirs})
    assert "contact.created" not in {e["type"] for e in mine}


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!!",
        "e30",  # {}
        "eyJrIjoiZXZlbnQiLCJ2IjpbLTFdfQ",  # {"k":"event","v":[-1]}
        "eyJrIjoiZXZlbnQiLCJ2IjpbIjEiXX0",  # {"k":"event","v":["1"]}
        "eyJrIjoid2ViaG9vayIsInYiOlsxXX0",  # {"k":"webhook","v":[1]}: another list's cursor
    ],
)
@pytest.mark.parametrize("name", ["cursor", "after"])
async def test_malformed_cursors_are_400(client, owner, cursor, name):
    response = await client.get("/v1/events", params={name: cursor}, headers=owner.headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_after_is_the_old_name_of_cursor(client, owner):
    """The feed paged by `after` before every list took `cursor`; clients that still send
    it get the same pages."""
    for n in range(3):
        await create_contact(client, owner, display_name=f"N{n}", external_refs={})
    first = (await client.get("/v1/events?limit=2", headers=owner.headers)).json()
    cursor = first["next_cursor"]
    by_cursor = await client.get(f"/v1/events?cursor={cursor}", headers=owner.headers)
    by_after = await client.get(f"/v1/events?after={cursor}", headers=owner.headers)
    assert by_cursor.status_code == by_after.status_code == 200
    assert by_cursor.json() == by_after.json()
    assert [e["type"] for e in by_cursor.json()["data"]] == ["contact.created"] * 3


async def test_cursor_and_after_together_are_400(client, owner):
    first = (await client.get("/v1/events?limit=1", headers=owner.headers)).json()
    cursor = first["next_cursor"]
    response = await client.get(
        "/v1/events", params={"cursor": cursor, "after": cursor}, headers=owner.headers
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "after"


async def test_erasure_scrubs_the_feed(client, owner):
    contact = await create_contact(client, owner)
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, contact["id"], target["id"])
    await client.delete(
        f"/v1/contacts/{contact['id']}", params={"erase": "true"}, headers=owner.headers
    )
    events, _ = await read_all(client, owner)
    about = [e for e in events if e["resource_id"] in (contact["id"], intro["id"])]
    assert [e["type"] for e in about] == [
        "contact.created",
        "introduction.requested",
        "contact.erased",
    ]
    assert all(e["data"] in ({"erased": True}, {"id": contact["id"]}) for e in about)
    assert b"Lovelace" not in str(events).encode()
    assert requester["id"] in {e["resource_id"] for e in events}


async def test_events_wait_for_the_commit_and_vanish_with_a_rollback(app, owner):
    """Events are inserted at commit (that is when the feed lock is taken), never earlier,
    and a rolled-back transaction leaves none behind, not even in the next one."""

    def recorded(session, label: str) -> None:
        record_event(
            session,
            owner_id=owner.owner_id,
            type="contact.updated",
            resource="contact",
            resource_id=label,
            data={"label": label},
        )

    async def stored(session, label: str) -> int:
        rows = await session.exec(select(Event).where(Event.resource_id == label))
        return len(rows.all())

    async with app.state.sessionmaker() as session:
        recorded(session, "ct_rolled_back")
        await session.flush()
        assert await stored(session, "ct_rolled_back") == 0
        await roll_back(session)
        recorded(session, "ct_committed")
        await commit(session)
        assert await stored(session, "ct_committed") == 1
        assert await stored(session, "ct_rolled_back") == 0


def _event_row(owner_id: str, label: str) -> dict:
    return {
        "id": new_id("ev"),
        "owner_id": owner_id,
        "type": "contact.updated",
        "resource": "contact",
        "resource_id": label,
        "contact_id": None,
        "occurred_at": utcnow(),
        "data": {},
    }


@pytest.mark.postgres
async def test_an_owners_events_are_numbered_in_commit_order(fresh_database_url):
    """Really committed, on a database of its own: the numbers are drawn at COMMIT, behind
    the owner's lock (migration 0007), not at INSERT."""
    url = fresh_database_url("commit_order")
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(Settings(database_url=url))
    events = Event.__table__
    try:
        async with create_sessionmaker(engine)() as session:
            owner = await auth.create_owner(session, email="order@example.com", name=None)
            await session.commit()

        async def seqs() -> dict[str, int]:
            async with engine.connect() as conn:
                rows = await conn.execute(select(events.c.resource_id, events.c.seq))
                return dict(rows.all())

        # Inserted first, committed last: numbered last.
        async with engine.connect() as first, engine.connect() as second:
            await first.execute(insert(events), _event_row(owner.id, "inserted first"))
            await second.execute(insert(events), _event_row(owner.id, "inserted second"))
            await second.commit()
            await first.commit()
        numbers = await seqs()
        assert numbers["inserted second"] < numbers["inserted first"]

        # Once a transaction has numbered its events, another of the same owner cannot
        # number (and so commit) its own until the first has ended.
        async with engine.connect() as holder, engine.connect() as waiter:
            await holder.execute(insert(events), _event_row(owner.id, "holder"))
            await holder.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # numbers it now
            await waiter.execute(insert(events), _event_row(owner.id, "waiter"))
            commit = asyncio.create_task(waiter.commit())
            await asyncio.sleep(0.5)
            assert not commit.done()
            await holder.commit()
            await asyncio.wait_for(commit, timeout=10)
        numbers = await seqs()
        assert numbers["holder"] < numbers["waiter"]
    finally:
        await engine.dispose()


def test_every_introduction_event_type_is_known_to_subscriptions():
    assert set(INTRODUCTION_EVENT_TYPES.values()) <= EVENT_TYPES
