"""A contact's needs and offers: kept as written (trimmed), matched folded through the
contact_phrase rows that every write keeps in step with the lists."""

from sqlmodel import select

from app.contacts.models import ContactPhrase
from tests.factories import contact_body, create_contact


async def phrases(app, owner_id: str, contact_id: str) -> set[tuple[str, str]]:
    async with app.state.sessionmaker() as session:
        rows = await session.exec(
            select(ContactPhrase.kind, ContactPhrase.phrase).where(
                ContactPhrase.owner_id == owner_id, ContactPhrase.contact_id == contact_id
            )
        )
        return set(rows.all())


async def a_contact(client, actor, **fields) -> dict:
    return await create_contact(client, actor, channels=[], external_refs={}, **fields)


async def test_needs_and_offers_are_kept_as_written_and_matched_folded(app, client, owner):
    ada = await a_contact(
        client,
        owner,
        needs=["  Seed  Funding ", "seed funding", "Design review"],
        offers=["Intros to CFOs"],
    )
    # Trimmed, in order, each as written; the lists and every read agree.
    assert ada["needs"] == ["Seed  Funding", "seed funding", "Design review"]
    assert ada["offers"] == ["Intros to CFOs"]
    read = (await client.get(f"/v1/contacts/{ada['id']}", headers=owner.headers)).json()
    assert (read["needs"], read["offers"]) == (ada["needs"], ada["offers"])
    listed = (await client.get("/v1/contacts", headers=owner.headers)).json()["data"]
    assert [(c["needs"], c["offers"]) for c in listed] == [(ada["needs"], ada["offers"])]
    # "  Seed  Funding " and "seed funding" are one phrase to match.
    assert await phrases(app, owner.owner_id, ada["id"]) == {
        ("need", "seed funding"),
        ("need", "design review"),
        ("offer", "intros to cfos"),
    }


async def test_a_contact_without_them_has_empty_lists(app, client, owner):
    ada = await a_contact(client, owner)
    assert (ada["needs"], ada["offers"]) == ([], [])
    assert await phrases(app, owner.owner_id, ada["id"]) == set()


async def test_every_write_keeps_the_phrases_in_step(app, client, owner):
    ada = await a_contact(client, owner, needs=["Seed funding"], offers=["Design review"])
    one = f"/v1/contacts/{ada['id']}"

    patched = await client.patch(one, json={"needs": ["Hiring", "HIRING "]}, headers=owner.headers)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["needs"], patched.json()["offers"]) == (
        ["Hiring", "HIRING"],
        ["Design review"],
    )
    assert await phrases(app, owner.owner_id, ada["id"]) == {
        ("need", "hiring"),
        ("offer", "design review"),
    }
    # A PATCH of other fields leaves them be.
    await client.patch(one, json={"title": "CTO"}, headers=owner.headers)
    assert len(await phrases(app, owner.owner_id, ada["id"])) == 2

    cleared = await client.patch(one, json={"offers": []}, headers=owner.headers)
    assert cleared.json()["offers"] == []
    assert await phrases(app, owner.owner_id, ada["id"]) == {("need", "hiring")}

    # PUT by reference replaces the contact whole: lists left out go back to empty.
    put = await client.put(
        "/v1/contacts/by-ref/crm/ada-1",
        json={"display_name": "Ada", "offers": ["Mentoring"]},
        headers=owner.headers,
    )
    assert put.status_code == 201, put.text
    by_ref = put.json()
    assert (by_ref["needs"], by_ref["offers"]) == ([], ["Mentoring"])
    assert await phrases(app, owner.owner_id, by_ref["id"]) == {("offer", "mentoring")}
    replaced = await client.put(
        "/v1/contacts/by-ref/crm/ada-1",
        json={"display_name": "Ada", "needs": ["Office space"]},
        headers=owner.headers,
    )
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["needs"], replaced.json()["offers"]) == (["Office space"], [])
    assert await phrases(app, owner.owner_id, by_ref["id"]) == {("need", "office space")}


async def test_a_batch_sets_them_on_created_and_updated_contacts(app, client, owner):
    items = [
        {"display_name": "Grace", "external_refs": {"crm": "g-1"}, "needs": ["A Co-founder"]},
        {"display_name": "Alan", "external_refs": {"crm": "a-1"}},
    ]
    first = await client.post("/v1/contacts/batch", json={"items": items}, headers=owner.headers)
    assert [r["status"] for r in first.json()["results"]] == ["created", "created"]
    grace, alan = (r["id"] for r in first.json()["results"])
    assert await phrases(app, owner.owner_id, grace) == {("need", "a co-founder")}

    items[1]["offers"] = ["Cryptography"]
    again = await client.post("/v1/contacts/batch", json={"items": items}, headers=owner.headers)
    assert [r["status"] for r in again.json()["results"]] == ["unchanged", "updated"]
    read = (await client.get(f"/v1/contacts/{alan}", headers=owner.headers)).json()
    assert read["offers"] == ["Cryptography"]
    assert await phrases(app, owner.owner_id, alan) == {("offer", "cryptography")}


async def test_bad_phrases_are_422_naming_them(client, owner):
    cases = [
        ({"needs": ["   "]}, ["needs[0]"]),
        ({"needs": ["ok", ""]}, ["needs[1]"]),
        ({"offers": ["x" * 201]}, ["offers[0]"]),
        # Folding lengthens it past the limit: 100 "ß" fold to 200 "s", 101 to 202.
        ({"offers": ["ß" * 101]}, ["offers[0]"]),
        ({"needs": [f"need {i}" for i in range(21)]}, ["needs"]),
        ({"needs": "seed funding"}, ["needs"]),
        ({"offers": [5]}, ["offers[0]"]),
    ]
    for fields, where in cases:
        response = await client.post(
            "/v1/contacts", json=contact_body(**fields), headers=owner.headers
        )
        assert response.status_code == 422, (fields, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == where, fields
    ada = await a_contact(client, owner, needs=["ß" * 100, *[f"n{i}" for i in range(19)]])
    assert len(ada["needs"]) == 20
    for body, where in (({"needs": None}, "needs"), ({"offers": [" "]}, "offers[0]")):
        response = await client.patch(f"/v1/contacts/{ada['id']}", json=body, headers=owner.headers)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [where]


async def test_they_are_in_the_change_feed(client, owner):
    ada = await a_contact(client, owner, needs=["Seed funding"])
    await client.patch(
        f"/v1/contacts/{ada['id']}", json={"offers": ["Design review"]}, headers=owner.headers
    )
    events = (
        await client.get("/v1/events", params={"type": "contact.*"}, headers=owner.headers)
    ).json()["data"]
    assert [(e["data"]["needs"], e["data"]["offers"]) for e in events] == [
        (["Seed funding"], []),
        (["Seed funding"], ["Design review"]),
    ]
