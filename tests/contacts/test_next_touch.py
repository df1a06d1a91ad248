"""`connected_at` and `next_touch_due_at` on contacts: when a touch is due, from what, and
that every answer carrying a contact carries both."""

from datetime import UTC, datetime, timedelta

import orjson
from sqlmodel import select

from app.contacts.models import Contact
from tests.factories import create_contact

DAY = timedelta(days=1)
CONNECTED = datetime(2021, 3, 12, 8, 30, tzinfo=UTC)


def moment(document: dict, name: str) -> datetime | None:
    value = document[name]
    return None if value is None else datetime.fromisoformat(value)


async def a_contact(client, actor, **overrides) -> dict:
    return await create_contact(client, actor, channels=[], external_refs={}, **overrides)


async def test_without_a_cadence_nothing_is_due(client, owner):
    contact = await a_contact(client, owner, cadence_days=None, connected_at=CONNECTED.isoformat())
    assert contact["next_touch_due_at"] is None
    assert moment(contact, "connected_at") == CONNECTED
    await client.post(
        f"/v1/contacts/{contact['id']}/interactions", json={"kind": "call"}, headers=owner.headers
    )
    read = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert read.json()["next_touch_due_at"] is None


async def test_never_met_is_due_a_cadence_after_being_added(client, owner):
    contact = await a_contact(client, owner, cadence_days=30)
    assert contact["connected_at"] is None
    assert moment(contact, "next_touch_due_at") == moment(contact, "created_at") + 30 * DAY
    read = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert read.json() == contact


async def test_never_met_is_due_a_cadence_after_connecting(client, owner):
    contact = await a_contact(
        client, owner, cadence_days=30, connected_at="2021-03-12T09:30:00+01:00"
    )
    assert moment(contact, "connected_at") == CONNECTED
    assert moment(contact, "next_touch_due_at") == CONNECTED + 30 * DAY
    # Long past due: stale.
    assert "stale" in contact["reciprocity"]["flags"]


async def test_an_interaction_makes_it_due_a_cadence_after_the_touch(client, owner):
    contact = await a_contact(client, owner, cadence_days=14, connected_at=CONNECTED.isoformat())
    when = datetime.now(UTC) - 2 * DAY
    response = await client.post(
        f"/v1/contacts/{contact['id']}/interactions",
        json={"kind": "coffee", "occurred_at": when.isoformat()},
        headers=owner.headers,
    )
    assert response.status_code == 201
    read = (await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)).json()
    assert moment(read, "next_touch_due_at") == when + 14 * DAY
    assert "stale" not in read["reciprocity"]["flags"]


async def test_changing_connected_at_or_the_cadence_moves_the_due_date(client, owner):
    contact = await a_contact(client, owner, cadence_days=30)
    url = f"/v1/contacts/{contact['id']}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]

    response = await client.patch(
        url,
        json={"connected_at": CONNECTED.isoformat()},
        headers={**owner.headers, "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    assert moment(response.json(), "next_touch_due_at") == CONNECTED + 30 * DAY
    assert response.headers["etag"] != etag
    etag = response.headers["etag"]

    response = await client.patch(url, json={"cadence_days": 7}, headers=owner.headers)
    assert moment(response.json(), "next_touch_due_at") == CONNECTED + 7 * DAY
    assert response.headers["etag"] != etag

    # Cleared: due from when the contact was added again.
    response = await client.patch(url, json={"connected_at": None}, headers=owner.headers)
    assert response.json()["connected_at"] is None
    assert moment(response.json(), "next_touch_due_at") == moment(contact, "created_at") + 7 * DAY

    response = await client.patch(url, json={"cadence_days": None}, headers=owner.headers)
    assert response.json()["next_touch_due_at"] is None
    read = await client.get(url, headers=owner.headers)
    assert (read.content, read.headers["etag"]) == (response.content, response.headers["etag"])


async def test_connected_at_is_not_in_the_future_and_is_a_timestamp(client, owner):
    contact = await a_contact(client, owner)
    future = (datetime.now(UTC) + DAY).isoformat()
    for value in (future, "12 Mar 2021", "2021-03-12", 5):
        created = await client.post(
            "/v1/contacts",
            json={"display_name": "Grace", "connected_at": value},
            headers=owner.headers,
        )
        assert created.status_code == 422, value
        assert [e["field"] for e in created.json()["errors"]] == ["connected_at"]
        patched = await client.patch(
            f"/v1/contacts/{contact['id']}", json={"connected_at": value}, headers=owner.headers
        )
        assert patched.status_code == 422, value
    read = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert read.json() == contact


async def test_lists_exports_and_events_carry_both_fields(client, owner):
    contact = await a_contact(client, owner, cadence_days=30, connected_at=CONNECTED.isoformat())
    expected = {
        "connected_at": contact["connected_at"],
        "next_touch_due_at": contact["next_touch_due_at"],
    }
    assert moment(contact, "next_touch_due_at") == CONNECTED + 30 * DAY

    listed = await client.get("/v1/contacts", headers=owner.headers)
    (row,) = [c for c in listed.json()["data"] if c["id"] == contact["id"]]
    assert row == contact

    export = await client.get("/v1/export", headers=owner.headers)
    assert export.status_code == 200
    (exported,) = [c for c in orjson.loads(export.content)["contacts"] if c["id"] == contact["id"]]
    assert {k: exported[k] for k in expected} == expected

    events = await client.get("/v1/events", params={"limit": 200}, headers=owner.headers)
    (created,) = [e for e in events.json()["data"] if e["type"] == "contact.created"]
    assert {k: created["data"][k] for k in expected} == expected


async def test_erasure_forgets_when_they_connected(app, client, owner):
    contact = await a_contact(client, owner, connected_at=CONNECTED.isoformat())
    url = f"/v1/contacts/{contact['id']}"
    assert (
        await client.delete(url, params={"erase": "true"}, headers=owner.headers)
    ).status_code == 204
    async with app.state.sessionmaker() as session:
        tombstone = (
            await session.exec(
                select(Contact).where(
                    Contact.owner_id == owner.owner_id, Contact.id == contact["id"]
                )
            )
        ).one()
    assert tombstone.erased_at is not None
    assert tombstone.connected_at is None
