"""Making an introduction records that its requester and target now know each other."""

from tests.factories import create_contact, create_introduction


async def a_contact(client, actor, name: str) -> dict:
    return await create_contact(client, actor, display_name=name, channels=[], external_refs={})


async def make(client, actor, requester_id: str, target_id: str) -> dict:
    intro = await create_introduction(client, actor, requester_id, target_id)
    url = f"/v1/introductions/{intro['id']}"
    for action, body in (
        ("consent-request", {}),
        ("consent", {"decision": "accept", "evidence": "Said yes"}),
        ("make", {"note": "Sent"}),
    ):
        response = await client.post(f"{url}/{action}", json=body, headers=actor.headers)
        assert response.status_code == 200, response.text
    return response.json()


async def introduced_edges(client, actor, contact_id: str) -> list[dict]:
    response = await client.get(
        "/v1/relationships", params={"contact_id": contact_id}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return [r for r in response.json()["data"] if r["kind"] == "introduced"]


async def test_making_an_introduction_adds_an_introduced_edge(client, owner):
    rita, theo = await a_contact(client, owner, "Rita"), await a_contact(client, owner, "Theo")
    intro = await create_introduction(client, owner, rita["id"], theo["id"])
    # Not before it is made.
    assert await introduced_edges(client, owner, rita["id"]) == []
    await client.post(f"/v1/introductions/{intro['id']}/withdraw", json={}, headers=owner.headers)
    assert await introduced_edges(client, owner, rita["id"]) == []

    made = await make(client, owner, rita["id"], theo["id"])
    assert made["state"] == "made"
    [edge] = await introduced_edges(client, owner, theo["id"])
    assert edge["contact_ids"] == sorted([rita["id"], theo["id"]])
    assert edge["strength"] == 3
    assert made["id"] in edge["note"]
    events = (
        await client.get("/v1/events", params={"type": "relationship.*"}, headers=owner.headers)
    ).json()["data"]
    assert [(e["type"], e["resource_id"], e["data"]) for e in events] == [
        ("relationship.created", edge["id"], edge)
    ]
    # It is in the made introduction's own transaction: the feed has it after the making.
    types = [
        e["type"]
        for e in (await client.get("/v1/events?limit=200", headers=owner.headers)).json()["data"]
    ]
    assert types.index("relationship.created") > types.index("introduction.made")


async def test_a_pair_gets_one_introduced_edge_whichever_way_round(client, owner):
    rita, theo = await a_contact(client, owner, "Rita"), await a_contact(client, owner, "Theo")
    await make(client, owner, rita["id"], theo["id"])
    await make(client, owner, theo["id"], rita["id"])
    edges = await introduced_edges(client, owner, rita["id"])
    assert len(edges) == 1


async def test_an_introduced_edge_the_owner_recorded_is_kept(client, owner):
    rita, theo = await a_contact(client, owner, "Rita"), await a_contact(client, owner, "Theo")
    mine = await client.post(
        "/v1/relationships",
        json={"contact_ids": [rita["id"], theo["id"]], "kind": "introduced", "strength": 5},
        headers=owner.headers,
    )
    assert mine.status_code == 201
    friends = await client.post(
        "/v1/relationships",
        json={"contact_ids": [rita["id"], theo["id"]], "kind": "friend"},
        headers=owner.headers,
    )
    assert friends.status_code == 201
    await make(client, owner, rita["id"], theo["id"])
    assert await introduced_edges(client, owner, rita["id"]) == [mine.json()]
