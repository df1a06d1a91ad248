"""Archiving undone (`POST /v1/contacts/{id}/restore`), and what an archived contact refuses
until then: new interactions, ledger entries and introductions (409 contact-archived)."""

from tests.factories import create_contact, create_pair, introduction_body


def archived_problem(response, contact_id: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("contact-archived")
    assert problem["contact_id"] == contact_id


async def listed(client, owner, archived: bool = False) -> list[str]:
    page = await client.get(
        "/v1/contacts", params={"archived": str(archived).lower()}, headers=owner.headers
    )
    return [c["id"] for c in page.json()["data"]]


async def test_restore_undoes_an_archive(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}"
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert contact["id"] not in await listed(client, owner)
    restored = await client.post(f"{url}/restore", headers=owner.headers)
    assert restored.status_code == 200, restored.text
    assert restored.json()["archived_at"] is None
    read = await client.get(url, headers=owner.headers)
    assert read.json() == restored.json()
    assert read.headers["etag"] == restored.headers["etag"] != contact.get("etag")
    assert await listed(client, owner) == [contact["id"]]
    assert await listed(client, owner, archived=True) == []
    events = (await client.get("/v1/events", headers=owner.headers)).json()["data"]
    assert [e["type"] for e in events[-2:]] == ["contact.archived", "contact.restored"]
    assert events[-1]["resource_id"] == contact["id"]
    assert events[-1]["data"]["archived_at"] is None


async def test_restoring_a_contact_not_archived_is_409(client, owner):
    contact = await create_contact(client, owner)
    response = await client.post(
        f"/v1/contacts/{contact['id']}/restore", json={}, headers=owner.headers
    )
    assert response.status_code == 409
    assert response.json()["type"].endswith("contact-not-archived")
    read = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert read.json()["updated_at"] == contact["updated_at"]


async def test_restore_of_erased_unknown_or_anothers_contact_is_404(client, owner, other_owner):
    theirs = await create_contact(client, other_owner)
    await client.delete(f"/v1/contacts/{theirs['id']}", headers=other_owner.headers)
    erased = await create_contact(client, owner)
    await client.delete(f"/v1/contacts/{erased['id']}?erase=true", headers=owner.headers)
    for contact_id in (theirs["id"], erased["id"], "ct_00000000000000000000000000"):
        response = await client.post(f"/v1/contacts/{contact_id}/restore", headers=owner.headers)
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("contact-not-found")
    read = await client.get(f"/v1/contacts/{theirs['id']}", headers=other_owner.headers)
    assert read.json()["archived_at"] is not None


async def test_an_archived_contact_refuses_interactions_entries_and_introductions(client, owner):
    requester, target = await create_pair(client, owner)
    for archived, other in ((requester, target), (target, requester)):
        url = f"/v1/contacts/{archived['id']}"
        await client.delete(url, headers=owner.headers)
        before = (await client.get(url, headers=owner.headers)).json()

        interaction = await client.post(
            f"{url}/interactions", json={"kind": "call"}, headers=owner.headers
        )
        archived_problem(interaction, archived["id"])
        entry = await client.post(
            "/v1/ledger",
            json={"contact_id": archived["id"], "direction": "gave", "kind": "advice", "weight": 2},
            headers=owner.headers,
        )
        archived_problem(entry, archived["id"])
        pair = (archived, other) if archived is requester else (other, archived)
        intro = await client.post(
            "/v1/introductions",
            json=introduction_body(pair[0]["id"], pair[1]["id"]),
            headers=owner.headers,
        )
        archived_problem(intro, archived["id"])

        assert (await client.get(url, headers=owner.headers)).json() == before
        listing = await client.get(f"{url}/interactions", headers=owner.headers)
        assert listing.json()["data"] == []
        ledger = await client.get(f"/v1/ledger?contact_id={archived['id']}", headers=owner.headers)
        assert ledger.json()["data"] == []
        assert (await client.get("/v1/introductions", headers=owner.headers)).json()["data"] == []
        await client.post(f"{url}/restore", headers=owner.headers)

    # Restored, they take them again.
    url = f"/v1/contacts/{requester['id']}"
    interaction = await client.post(
        f"{url}/interactions", json={"kind": "call"}, headers=owner.headers
    )
    assert interaction.status_code == 201, interaction.text
    entry = await client.post(
        "/v1/ledger",
        json={"contact_id": requester["id"], "direction": "gave", "kind": "advice", "weight": 2},
        headers=owner.headers,
    )
    assert entry.status_code == 201, entry.text
    intro = await client.post(
        "/v1/introductions",
        json=introduction_body(requester["id"], target["id"]),
        headers=owner.headers,
    )
    assert intro.status_code == 201, intro.text


async def test_an_archived_contacts_entries_cannot_be_reversed_until_restored(client, owner):
    contact = await create_contact(client, owner)
    entry = await client.post(
        "/v1/ledger",
        json={"contact_id": contact["id"], "direction": "gave", "kind": "advice", "weight": 2},
        headers=owner.headers,
    )
    await client.delete(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    reversal = await client.post(
        f"/v1/ledger/{entry.json()['id']}/reversal", json={}, headers=owner.headers
    )
    archived_problem(reversal, contact["id"])
    balance = await client.get(f"/v1/contacts/{contact['id']}/reciprocity", headers=owner.headers)
    assert balance.json()["deposits"] == 2
    # A contact that is not there is still a 404, archived or not.
    missing = await client.post(
        "/v1/ledger",
        json={
            "contact_id": "ct_00000000000000000000000000",
            "direction": "gave",
            "kind": "advice",
            "weight": 1,
        },
        headers=owner.headers,
    )
    assert missing.status_code == 404, missing.text
