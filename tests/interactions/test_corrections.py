"""Correcting a logged touch: GET, PATCH and DELETE of one interaction, and what they do to
the contact's `last_interaction_at`, due date and ETag."""

from datetime import UTC, datetime, timedelta

from tests.factories import create_contact

DAY = timedelta(days=1)


def at(response) -> datetime | None:
    value = response.json()["last_interaction_at"]
    return None if value is None else datetime.fromisoformat(value)


def due(response) -> datetime | None:
    value = response.json()["next_touch_due_at"]
    return None if value is None else datetime.fromisoformat(value)


async def a_contact(client, actor, **overrides) -> dict:
    # No channels or references: contacts of one test never share an address or a CRM id.
    return await create_contact(client, actor, channels=[], external_refs={}, **overrides)


async def log(client, actor, contact_id: str, when: datetime, **fields) -> dict:
    body = {"kind": "call", "occurred_at": when.isoformat(), **fields}
    response = await client.post(
        f"/v1/contacts/{contact_id}/interactions", json=body, headers=actor.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def url(contact_id: str, interaction_id: str) -> str:
    return f"/v1/contacts/{contact_id}/interactions/{interaction_id}"


async def feed(client, actor) -> list[dict]:
    response = await client.get("/v1/events", params={"limit": 200}, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_a_correction_answers_the_interaction_with_the_etag_a_read_gives(client, owner):
    contact = await a_contact(client, owner)
    when = datetime.now(UTC) - 3 * DAY
    logged = await log(client, owner, contact["id"], when, summary="Coffee")
    one = url(contact["id"], logged["id"])
    read = await client.get(one, headers=owner.headers)
    assert read.status_code == 200
    assert read.json() == logged

    earlier = when - 2 * DAY
    changes = {
        "kind": "meeting",
        "occurred_at": earlier.isoformat(),
        "summary": "Lunch, not coffee",
        "initiated_by": "them",
    }
    response = await client.patch(
        one, json=changes, headers={**owner.headers, "If-Match": read.headers["etag"]}
    )
    assert response.status_code == 200, response.text
    corrected = response.json()
    assert corrected["id"] == logged["id"]
    assert (corrected["kind"], corrected["summary"], corrected["initiated_by"]) == (
        "meeting",
        "Lunch, not coffee",
        "them",
    )
    assert datetime.fromisoformat(corrected["occurred_at"]) == earlier
    assert corrected["created_at"] == logged["created_at"]
    assert response.headers["etag"] != read.headers["etag"]
    again = await client.get(one, headers=owner.headers)
    assert (again.content, again.headers["etag"]) == (response.content, response.headers["etag"])
    listed = await client.get(f"/v1/contacts/{contact['id']}/interactions", headers=owner.headers)
    assert listed.json()["data"] == [corrected]

    # Only the fields sent change; a null summary clears it.
    cleared = await client.patch(one, json={"summary": None}, headers=owner.headers)
    assert cleared.status_code == 200
    assert cleared.json() == {**corrected, "summary": None}


async def test_a_stale_if_match_is_412_and_changes_nothing(client, owner):
    contact = await a_contact(client, owner)
    logged = await log(client, owner, contact["id"], datetime.now(UTC) - DAY)
    one = url(contact["id"], logged["id"])
    old = (await client.get(one, headers=owner.headers)).headers["etag"]
    first = await client.patch(
        one, json={"summary": "First"}, headers={**owner.headers, "If-Match": old}
    )
    assert first.status_code == 200
    before = await client.get(one, headers=owner.headers)
    contact_before = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    for method, body in (("PATCH", {"summary": "Second"}), ("DELETE", None)):
        response = await client.request(
            method, one, json=body, headers={**owner.headers, "If-Match": old}
        )
        assert response.status_code == 412, response.text
        assert response.headers["content-type"] == "application/problem+json"
    after = await client.get(one, headers=owner.headers)
    assert (after.content, after.headers["etag"]) == (before.content, before.headers["etag"])
    contact_after = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert contact_after.content == contact_before.content
    # The current one is taken, and so is `*`.
    deleted = await client.delete(
        one, headers={**owner.headers, "If-Match": before.headers["etag"]}
    )
    assert deleted.status_code == 204
    assert deleted.content == b""


async def test_moving_the_latest_back_in_time_makes_the_next_one_the_last(client, owner):
    contact = await a_contact(client, owner, cadence_days=10)
    now = datetime.now(UTC)
    older = await log(client, owner, contact["id"], now - 5 * DAY)
    latest = await log(client, owner, contact["id"], now - DAY)
    contact_url = f"/v1/contacts/{contact['id']}"
    before = await client.get(contact_url, headers=owner.headers)
    assert at(before) == now - DAY
    assert due(before) == now - DAY + 10 * DAY

    moved = await client.patch(
        url(contact["id"], latest["id"]),
        json={"occurred_at": (now - 20 * DAY).isoformat()},
        headers=owner.headers,
    )
    assert moved.status_code == 200, moved.text
    after = await client.get(contact_url, headers=owner.headers)
    assert at(after) == datetime.fromisoformat(older["occurred_at"]) == now - 5 * DAY
    assert due(after) == now - 5 * DAY + 10 * DAY
    assert after.headers["etag"] != before.headers["etag"]
    # A client holding the old representation gets the new one, not a 304.
    fresh = await client.get(
        contact_url, headers={**owner.headers, "If-None-Match": before.headers["etag"]}
    )
    assert fresh.status_code == 200

    # Moved forward again, it is the last one again.
    back = await client.patch(
        url(contact["id"], latest["id"]),
        json={"occurred_at": (now - 2 * DAY).isoformat()},
        headers=owner.headers,
    )
    assert back.status_code == 200
    assert at(await client.get(contact_url, headers=owner.headers)) == now - 2 * DAY


async def test_deleting_the_latest_and_then_the_only_one(client, owner):
    connected = datetime(2021, 3, 12, tzinfo=UTC)
    contact = await a_contact(client, owner, cadence_days=30, connected_at=connected.isoformat())
    now = datetime.now(UTC)
    older = await log(client, owner, contact["id"], now - 7 * DAY)
    latest = await log(client, owner, contact["id"], now - DAY)
    contact_url = f"/v1/contacts/{contact['id']}"

    first = await client.get(contact_url, headers=owner.headers)
    response = await client.delete(url(contact["id"], latest["id"]), headers=owner.headers)
    assert response.status_code == 204
    assert (
        await client.get(url(contact["id"], latest["id"]), headers=owner.headers)
    ).status_code == 404
    second = await client.get(contact_url, headers=owner.headers)
    assert at(second) == now - 7 * DAY
    assert due(second) == now - 7 * DAY + 30 * DAY
    assert second.headers["etag"] != first.headers["etag"]

    response = await client.delete(url(contact["id"], older["id"]), headers=owner.headers)
    assert response.status_code == 204
    third = await client.get(contact_url, headers=owner.headers)
    assert at(third) is None
    # Never met now: due one cadence after the connection.
    assert due(third) == connected + 30 * DAY
    assert third.headers["etag"] != second.headers["etag"]
    listed = await client.get(f"{contact_url}/interactions", headers=owner.headers)
    assert listed.json()["data"] == []
    # Gone: a second delete finds nothing.
    again = await client.delete(url(contact["id"], older["id"]), headers=owner.headers)
    assert again.status_code == 404


async def test_corrections_are_events_in_the_feed(client, owner):
    contact = await a_contact(client, owner)
    logged = await log(client, owner, contact["id"], datetime.now(UTC) - DAY)
    one = url(contact["id"], logged["id"])
    corrected = (await client.patch(one, json={"summary": "Fixed"}, headers=owner.headers)).json()
    assert (await client.delete(one, headers=owner.headers)).status_code == 204

    events = [e for e in await feed(client, owner) if e["resource"] == "interaction"]
    assert [e["type"] for e in events] == [
        "interaction.created",
        "interaction.updated",
        "interaction.deleted",
    ]
    assert all(e["resource_id"] == logged["id"] for e in events)
    assert events[1]["data"] == corrected
    # What was deleted, as it was: a client syncing from the feed knows what to drop.
    assert events[2]["data"] == corrected


async def test_a_correction_that_changes_nothing_records_nothing(client, owner):
    contact = await a_contact(client, owner)
    logged = await log(client, owner, contact["id"], datetime.now(UTC) - DAY, summary="Same")
    contact_before = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    before = await feed(client, owner)
    for body in ({}, {"summary": "Same", "kind": "call"}):
        response = await client.patch(
            url(contact["id"], logged["id"]), json=body, headers=owner.headers
        )
        assert response.status_code == 200
        assert response.json() == logged
    assert await feed(client, owner) == before
    contact_after = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert contact_after.headers["etag"] == contact_before.headers["etag"]


async def test_corrections_follow_the_rules_of_logging(client, owner):
    contact = await a_contact(client, owner)
    logged = await log(client, owner, contact["id"], datetime.now(UTC) - DAY)
    one = url(contact["id"], logged["id"])
    future = (datetime.now(UTC) + DAY).isoformat()
    for body, field in (
        ({"occurred_at": future}, "occurred_at"),
        ({"occurred_at": "2026-01-01T09:00:00"}, "occurred_at"),  # no offset
        ({"kind": None}, "kind"),
        ({"occurred_at": None}, "occurred_at"),
        ({"initiated_by": "us"}, "initiated_by"),
        ({"summary": "x" * 5_001}, "summary"),
        ({"contact_id": "ct_other"}, "contact_id"),
    ):
        response = await client.patch(one, json=body, headers=owner.headers)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await client.get(one, headers=owner.headers)).json() == logged


async def test_an_archived_contacts_interactions_cannot_be_corrected(client, owner):
    contact = await a_contact(client, owner)
    logged = await log(client, owner, contact["id"], datetime.now(UTC) - DAY)
    one = url(contact["id"], logged["id"])
    assert (
        await client.delete(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    ).status_code == 204
    before = await feed(client, owner)
    for method, body in (("PATCH", {"summary": "Later"}), ("DELETE", None)):
        response = await client.request(method, one, json=body, headers=owner.headers)
        assert response.status_code == 409, response.text
        problem = response.json()
        assert problem["type"].endswith("contact-archived")
        assert problem["contact_id"] == contact["id"]
    # Still readable, unchanged.
    read = await client.get(one, headers=owner.headers)
    assert (read.status_code, read.json()) == (200, logged)
    assert await feed(client, owner) == before


async def test_another_owners_or_another_contacts_interaction_is_404(client, owner, other_owner):
    mine = await a_contact(client, owner)
    sibling = await a_contact(client, owner, display_name="Grace Hopper")
    theirs = await a_contact(client, other_owner)
    my_touch = await log(client, owner, mine["id"], datetime.now(UTC) - DAY)
    their_touch = await log(client, other_owner, theirs["id"], datetime.now(UTC) - DAY)
    for contact_id, interaction_id in (
        (theirs["id"], their_touch["id"]),  # another owner's, by its own path
        (mine["id"], their_touch["id"]),  # another owner's, under my contact
        (sibling["id"], my_touch["id"]),  # mine, under another of my contacts
        (mine["id"], "int_00000000000000000000000000"),  # nobody's
    ):
        for method, body in (("GET", None), ("PATCH", {"summary": "Mine now"}), ("DELETE", None)):
            response = await client.request(
                method, url(contact_id, interaction_id), json=body, headers=owner.headers
            )
            assert response.status_code == 404, (method, contact_id, interaction_id)
            assert response.headers["content-type"] == "application/problem+json"
    assert (
        await client.get(url(mine["id"], my_touch["id"]), headers=owner.headers)
    ).json() == my_touch
    kept = await client.get(url(theirs["id"], their_touch["id"]), headers=other_owner.headers)
    assert kept.json() == their_touch


async def test_a_read_only_key_cannot_correct(client, owner):
    contact = await a_contact(client, owner)
    logged = await log(client, owner, contact["id"], datetime.now(UTC) - DAY)
    one = url(contact["id"], logged["id"])
    for method, body in (("PATCH", {"summary": "No"}), ("DELETE", None)):
        response = await client.request(method, one, json=body, headers=owner.read_headers)
        assert response.status_code == 403
    assert (await client.get(one, headers=owner.headers)).json() == logged
