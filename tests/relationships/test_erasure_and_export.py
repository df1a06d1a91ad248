"""Relationships leave with the person erased, from the table and the feed, and are part of
the owner's JSON export."""

import json

from sqlmodel import select

from app.contacts.models import ContactPhrase
from app.relationships.models import Relationship
from tests.factories import create_contact


async def a_contact(client, actor, name: str, **fields) -> dict:
    return await create_contact(
        client, actor, display_name=name, channels=[], external_refs={}, **fields
    )


async def relate(client, actor, a: str, b: str, kind: str = "friend", note: str = "") -> dict:
    body = {"contact_ids": [a, b], "kind": kind, "note": note or None}
    response = await client.post("/v1/relationships", json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def rows(app, model, owner_id: str) -> list:
    async with app.state.sessionmaker() as session:
        return list((await session.exec(select(model).where(model.owner_id == owner_id))).all())


async def relationship_events(client, actor) -> list[dict]:
    response = await client.get(
        "/v1/events", params={"type": "relationship.*", "limit": 200}, headers=actor.headers
    )
    assert response.status_code == 200
    return response.json()["data"]


async def test_erasing_a_contact_removes_its_relationships_and_their_events(app, client, owner):
    ada = await a_contact(client, owner, "Ada", needs=["Seed funding"], offers=["Advice"])
    bob, cy, dee = [await a_contact(client, owner, n) for n in ("Bob", "Cy", "Dee")]
    # Ada at either end of the stored pair, and an edge already deleted before the erasure.
    with_bob = await relate(client, owner, ada["id"], bob["id"], note="Ada's old flatmate")
    with_cy = await relate(client, owner, cy["id"], ada["id"], note="Cy met Ada at PyCon")
    gone = await relate(client, owner, dee["id"], ada["id"], "family", note="Ada's cousin")
    assert (
        await client.delete(f"/v1/relationships/{gone['id']}", headers=owner.headers)
    ).is_success
    others = await relate(client, owner, bob["id"], cy["id"], note="Bob and Cy")

    erased = await client.delete(f"/v1/contacts/{ada['id']}?erase=true", headers=owner.headers)
    assert erased.status_code == 204, erased.text

    for relationship in (with_bob, with_cy):
        url = f"/v1/relationships/{relationship['id']}"
        assert (await client.get(url, headers=owner.headers)).status_code == 404
    listed = (await client.get("/v1/relationships", headers=owner.headers)).json()["data"]
    assert listed == [others]
    assert [r.id for r in await rows(app, Relationship, owner.owner_id)] == [others["id"]]
    assert await rows(app, ContactPhrase, owner.owner_id) == []

    # Nothing the feed held of them is left, the edge deleted earlier included; the events
    # of the relationship between two others keep theirs.
    events = await relationship_events(client, owner)
    about_ada = [e for e in events if e["resource_id"] != others["id"]]
    assert len(about_ada) == 4  # three created, one deleted
    assert all(e["data"] == {"erased": True} for e in about_ada)
    assert [e["data"] for e in events if e["resource_id"] == others["id"]] == [others]
    feed = json.dumps((await client.get("/v1/events?limit=200", headers=owner.headers)).json())
    for text in ("flatmate", "PyCon", "cousin", "Seed funding"):
        assert text not in feed


async def test_the_export_holds_relationships_and_needs_and_offers(client, owner, other_owner):
    ada = await a_contact(client, owner, "Ada", needs=["Seed funding"], offers=["Advice"])
    bob = await a_contact(client, owner, "Bob")
    friends = await relate(client, owner, ada["id"], bob["id"], note="Since school")
    colleagues = await relate(client, owner, bob["id"], ada["id"], "colleague")
    eve, mal = (
        await a_contact(client, other_owner, "Eve"),
        await a_contact(client, other_owner, "Mal"),
    )
    await relate(client, other_owner, eve["id"], mal["id"])

    response = await client.get("/v1/export", headers=owner.headers)
    assert response.status_code == 200
    document = response.json()
    assert document["relationships"] == [friends, colleagues]
    [exported_ada] = [c for c in document["contacts"] if c["id"] == ada["id"]]
    assert (exported_ada["needs"], exported_ada["offers"]) == (["Seed funding"], ["Advice"])
