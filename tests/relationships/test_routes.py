"""Relationships through the API: who knows whom among the owner's contacts."""

import pytest

from tests.factories import create_contact


async def a_contact(client, actor, name: str = "Ada") -> dict:
    # No channels or references: contacts of one test never share an address or a CRM id.
    return await create_contact(client, actor, display_name=name, channels=[], external_refs={})


async def relate(client, actor, a: str, b: str, kind: str = "colleague", **fields) -> dict:
    body = {"contact_ids": [a, b], "kind": kind, **fields}
    response = await client.post("/v1/relationships", json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def listed(client, actor, **params) -> list[dict]:
    response = await client.get("/v1/relationships", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def feed(client, actor, **params) -> list[dict]:
    params = {"limit": 200, **params}
    response = await client.get("/v1/events", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_a_relationship_is_created_read_changed_and_deleted(client, owner):
    ada, bob = await a_contact(client, owner, "Ada"), await a_contact(client, owner, "Bob")
    created = await client.post(
        "/v1/relationships",
        json={"contact_ids": [bob["id"], ada["id"]], "kind": "worked_with", "note": "Engines"},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    relationship = created.json()
    # Undirected: kept in the service's order, whichever order it was sent in.
    assert relationship["contact_ids"] == sorted([ada["id"], bob["id"]])
    assert relationship["kind"] == "worked_with"
    assert relationship["strength"] == 3  # the default
    assert relationship["note"] == "Engines"
    assert relationship["created_at"] == relationship["updated_at"]
    one = created.headers["location"]
    assert one == f"/v1/relationships/{relationship['id']}"

    read = await client.get(one, headers=owner.headers)
    assert read.status_code == 200
    assert read.json() == relationship
    assert read.headers["etag"] == created.headers["etag"]

    changed = await client.patch(
        one,
        json={"kind": "friend", "strength": 5, "note": None},
        headers={**owner.headers, "If-Match": read.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["kind"], body["strength"], body["note"]) == ("friend", 5, None)
    assert body["contact_ids"] == relationship["contact_ids"]
    assert changed.headers["etag"] != read.headers["etag"]
    assert (await client.get(one, headers=owner.headers)).json() == body

    deleted = await client.delete(one, headers=owner.headers)
    assert deleted.status_code == 204
    gone = await client.get(one, headers=owner.headers)
    assert gone.status_code == 404
    assert gone.json()["type"].endswith("relationship-not-found")
    assert await listed(client, owner) == []

    events = await feed(client, owner, type="relationship.*")
    assert [(e["type"], e["resource_id"]) for e in events] == [
        ("relationship.created", relationship["id"]),
        ("relationship.updated", relationship["id"]),
        ("relationship.deleted", relationship["id"]),
    ]
    assert events[0]["data"] == relationship
    assert events[1]["data"] == body
    assert events[2]["data"] == body  # as it was when deleted


@pytest.mark.parametrize("order", ["same", "reversed"])
async def test_the_same_pair_and_kind_twice_is_409_naming_the_first(client, owner, order):
    ada, bob = await a_contact(client, owner, "Ada"), await a_contact(client, owner, "Bob")
    first = await relate(client, owner, ada["id"], bob["id"], "friend")
    again = [ada["id"], bob["id"]] if order == "same" else [bob["id"], ada["id"]]
    response = await client.post(
        "/v1/relationships",
        json={"contact_ids": again, "kind": "friend", "strength": 1},
        headers=owner.headers,
    )
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["type"].endswith("relationship-exists")
    assert problem["existing_id"] == first["id"]
    assert first["id"] in problem["detail"]
    assert await listed(client, owner) == [first]
    # Another kind of tie between the same two is another relationship.
    colleague = await relate(client, owner, bob["id"], ada["id"], "colleague")
    assert {r["id"] for r in await listed(client, owner)} == {first["id"], colleague["id"]}


async def test_changing_the_kind_to_one_the_pair_has_is_409(client, owner):
    ada, bob = await a_contact(client, owner, "Ada"), await a_contact(client, owner, "Bob")
    friend = await relate(client, owner, ada["id"], bob["id"], "friend")
    family = await relate(client, owner, ada["id"], bob["id"], "family")
    response = await client.patch(
        f"/v1/relationships/{family['id']}", json={"kind": "friend"}, headers=owner.headers
    )
    assert response.status_code == 409, response.text
    assert response.json()["existing_id"] == friend["id"]
    unchanged = await client.get(f"/v1/relationships/{family['id']}", headers=owner.headers)
    assert unchanged.json() == family


async def test_bad_bodies_are_422_and_create_nothing(client, owner):
    ada, bob = await a_contact(client, owner, "Ada"), await a_contact(client, owner, "Bob")
    cases = [
        ({"contact_ids": [ada["id"], ada["id"]], "kind": "friend"}, ["contact_ids"]),
        ({"contact_ids": [ada["id"]], "kind": "friend"}, ["contact_ids"]),
        ({"contact_ids": [ada["id"], bob["id"], ada["id"]], "kind": "friend"}, ["contact_ids"]),
        ({"contact_ids": [ada["id"], bob["id"]], "kind": "nemesis"}, ["kind"]),
        ({"contact_ids": [ada["id"], bob["id"]], "kind": "friend", "strength": 0}, ["strength"]),
        ({"contact_ids": [ada["id"], bob["id"]], "kind": "friend", "strength": 6}, ["strength"]),
        ({"contact_ids": [ada["id"], bob["id"]], "kind": "friend", "strength": "4"}, ["strength"]),
        ({"contact_ids": [ada["id"], bob["id"]], "kind": "friend", "note": "x" * 2001}, ["note"]),
        ({"contact_ids": [ada["id"], bob["id"]]}, ["kind"]),
    ]
    for body, fields in cases:
        response = await client.post("/v1/relationships", json=body, headers=owner.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == fields, body
    assert await listed(client, owner) == []


async def test_a_patch_cannot_clear_kind_or_strength_nor_move_the_pair(client, owner):
    ada, bob = await a_contact(client, owner, "Ada"), await a_contact(client, owner, "Bob")
    relationship = await relate(client, owner, ada["id"], bob["id"])
    one = f"/v1/relationships/{relationship['id']}"
    for body, field in (
        ({"kind": None}, "kind"),
        ({"strength": None}, "strength"),
        ({"strength": 9}, "strength"),
        ({"contact_ids": [bob["id"], ada["id"]]}, "contact_ids"),
    ):
        response = await client.patch(one, json=body, headers=owner.headers)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await client.get(one, headers=owner.headers)).json() == relationship


async def test_a_patch_that_changes_nothing_keeps_the_version_and_records_no_event(client, owner):
    ada, bob = await a_contact(client, owner, "Ada"), await a_contact(client, owner, "Bob")
    relationship = await relate(client, owner, ada["id"], bob["id"], "friend", strength=4)
    one = f"/v1/relationships/{relationship['id']}"
    etag = (await client.get(one, headers=owner.headers)).headers["etag"]
    same = await client.patch(one, json={"kind": "friend", "strength": 4}, headers=owner.headers)
    assert same.status_code == 200
    assert same.headers["etag"] == etag
    assert same.json() == relationship
    types = [e["type"] for e in await feed(client, owner, type="relationship.*")]
    assert types == ["relationship.created"]


async def test_a_contact_that_is_not_the_owners_is_404(client, owner, other_owner):
    ada = await a_contact(client, owner, "Ada")
    theirs = await a_contact(client, other_owner, "Eve")
    for ids in (
        [ada["id"], theirs["id"]],
        [theirs["id"], ada["id"]],
        [ada["id"], "ct_00000000000000000000000000"],
    ):
        response = await client.post(
            "/v1/relationships", json={"contact_ids": ids, "kind": "friend"}, headers=owner.headers
        )
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("contact-not-found")
    assert await listed(client, owner) == []
    assert await listed(client, other_owner) == []


async def test_another_owners_relationship_does_not_exist(client, owner, other_owner):
    eve, mal = await a_contact(client, other_owner, "Eve"), await a_contact(client, other_owner)
    theirs = await relate(client, other_owner, eve["id"], mal["id"])
    one = f"/v1/relationships/{theirs['id']}"
    for response in (
        await client.get(one, headers=owner.headers),
        await client.patch(one, json={"strength": 1}, headers=owner.headers),
        await client.delete(one, headers=owner.headers),
    ):
        assert response.status_code == 404
        assert response.json()["type"].endswith("relationship-not-found")
    assert await listed(client, owner) == []
    assert await listed(client, owner, contact_id=eve["id"]) == []
    assert (await client.get(one, headers=other_owner.headers)).json() == theirs


async def test_an_archived_contact_takes_no_new_relationship_nor_changes(client, owner):
    ada, bob, cy = [await a_contact(client, owner, n) for n in ("Ada", "Bob", "Cy")]
    kept = await relate(client, owner, ada["id"], bob["id"])
    archived = await client.delete(f"/v1/contacts/{bob['id']}", headers=owner.headers)
    assert archived.status_code == 204

    refused = await client.post(
        "/v1/relationships",
        json={"contact_ids": [cy["id"], bob["id"]], "kind": "friend"},
        headers=owner.headers,
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("contact-archived")
    assert refused.json()["contact_id"] == bob["id"]

    one = f"/v1/relationships/{kept['id']}"
    changed = await client.patch(one, json={"strength": 5}, headers=owner.headers)
    assert changed.status_code == 409
    assert changed.json()["type"].endswith("contact-archived")
    assert (await client.get(one, headers=owner.headers)).json() == kept

    # Restored, it takes them again; an archived contact's relationship can be deleted.
    await client.post(f"/v1/contacts/{bob['id']}/restore", json={}, headers=owner.headers)
    assert (await client.patch(one, json={"strength": 5}, headers=owner.headers)).status_code == 200
    await client.delete(f"/v1/contacts/{bob['id']}", headers=owner.headers)
    assert (await client.delete(one, headers=owner.headers)).status_code == 204


async def test_stale_if_match_is_412_and_a_current_etag_gives_304(client, owner):
    ada, bob = await a_contact(client, owner, "Ada"), await a_contact(client, owner, "Bob")
    relationship = await relate(client, owner, ada["id"], bob["id"])
    one = f"/v1/relationships/{relationship['id']}"
    etag = (await client.get(one, headers=owner.headers)).headers["etag"]

    unchanged = await client.get(one, headers={**owner.headers, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag

    moved = await client.patch(one, json={"strength": 4}, headers=owner.headers)
    new_etag = moved.headers["etag"]
    assert new_etag != etag
    fresh = await client.get(one, headers={**owner.headers, "If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.json()["strength"] == 4

    stale = {**owner.headers, "If-Match": etag}
    for response in (
        await client.patch(one, json={"strength": 1}, headers=stale),
        await client.delete(one, headers=stale),
    ):
        assert response.status_code == 412, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(one, headers=owner.headers)).json() == moved.json()
    current = {**owner.headers, "If-Match": new_etag}
    assert (await client.delete(one, headers=current)).status_code == 204


async def test_the_list_pages_and_filters_by_either_end(client, owner):
    people = sorted(
        [await a_contact(client, owner, f"Person {i}") for i in range(6)], key=lambda c: c["id"]
    )
    # The middle id: the hub is the second of some stored pairs and the first of others.
    hub = people[2]
    spokes = [p for p in people if p is not hub]
    made = []
    for i, spoke in enumerate(spokes):
        pair = [hub["id"], spoke["id"]] if i % 2 else [spoke["id"], hub["id"]]
        made.append(await relate(client, owner, *pair))
    assert {r["contact_ids"].index(hub["id"]) for r in made} == {0, 1}
    elsewhere = await relate(client, owner, spokes[0]["id"], spokes[1]["id"], "friend")

    pages, cursor = [], None
    while True:
        params = {"contact_id": hub["id"], "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/relationships", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= 2
        pages.append(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(pages) == 3
    assert [r for page in pages for r in page] == made  # oldest first, each once

    assert await listed(client, owner, contact_id=spokes[0]["id"]) == [made[0], elsewhere]
    assert await listed(client, owner) == [*made, elsewhere]
    assert await listed(client, owner, contact_id="ct_00000000000000000000000000") == []
