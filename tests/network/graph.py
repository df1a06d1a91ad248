"""Building a small network through the API for the warm-path and suggestion tests."""

from typing import Any

from tests.factories import Actor, create_contact


async def person(client, actor: Actor, name: str, **overrides: Any) -> str:
    """A contact called `name` (its own address, so no two clash), returning its id."""
    fields: dict[str, Any] = {"display_name": name, "external_refs": {}, **overrides}
    contact = await create_contact(client, actor, **fields)
    return contact["id"]


async def knows(client, actor: Actor, a: str, b: str, strength: int = 3, kind: str = "friend"):
    response = await client.post(
        "/v1/relationships",
        json={"contact_ids": [a, b], "kind": kind, "strength": strength},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def give(client, actor: Actor, contact_id: str, weight: int) -> None:
    """A deposit of `weight` with the contact (the owner gave something)."""
    response = await client.post(
        "/v1/ledger",
        json={"contact_id": contact_id, "direction": "gave", "kind": "advice", "weight": weight},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text


async def archive(client, actor: Actor, contact_id: str) -> None:
    response = await client.delete(f"/v1/contacts/{contact_id}", headers=actor.headers)
    assert response.status_code in (200, 204), response.text


async def warm_paths(client, actor: Actor, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/warm-paths", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]
