from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import select

from app.contacts.models import Contact
from app.core.outbox import Event
from app.core.unit_of_work import commit
from tests.factories import contact_body, create_contact


async def test_create_contact_returns_every_field_with_location_and_etag(client, owner):
    body = contact_body()
    response = await client.post("/v1/contacts", json=body, headers=owner.headers)
    assert response.status_code == 201
    contact = response.json()
    assert response.headers["location"] == f"/v1/contacts/{contact['id']}"
    assert response.headers["etag"]
    for field in (
        "display_name",
        "given_name",
        "family_name",
        "organization",
        "title",
        "timezone",
        "trust_stage",
        "cadence_days",
        "tags",
        "notes",
        "channels",
        "external_refs",
    ):
        assert contact[field] == body[field], field
    assert contact["last_interaction_at"] is None
    assert contact["archived_at"] is None
    assert contact["created_at"] == contact["updated_at"]
    assert datetime.fromisoformat(contact["created_at"]).tzinfo is not None


async def test_minimal_contact_gets_defaults(client, owner):
    response = await client.post(
        "/v1/contacts", json={"display_name": "Grace"}, headers=owner.headers
    )
    contact = response.json()
    assert contact["trust_stage"] == "acquaintance"
    assert contact["tags"] == [] and contact["channels"] == [] and contact["external_refs"] == {}
    assert contact["cadence_days"] is None


async def test_email_channels_are_validated_and_normalised(client, owner):
    bad = await client.post(
        "/v1/contacts",
        json={"display_name": "X", "channels": [{"type": "email", "value": "not-an-email"}]},
        headers=owner.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "channels[0]"
    good = await client.post(
        "/v1/contacts",
        json={"display_name": "X", "channels": [{"type": "email", "value": "x@EXAMPLE.com"}]},
        headers=owner.headers,
    )
    assert good.json()["channels"][0]["value"] == "x@example.com"


async def test_duplicate_tags_and_uses_are_collapsed(client, owner):
    contact = await create_contact(
        client,
        owner,
        tags=["a", "b", "a"],
        channels=[{"type": "phone", "value": "1", "permitted_uses": ["personal", "personal"]}],
    )
    assert contact["tags"] == ["a", "b"]
    assert contact["channels"][0]["permitted_uses"] == ["personal"]


async def test_external_ref_is_unique_per_owner_and_system(client, owner, other_owner):
    await create_contact(client, owner, external_refs={"hubspot": "42"})
    clash = await client.post(
        "/v1/contacts", json=contact_body(external_refs={"hubspot": "42"}), headers=owner.headers
    )
    assert clash.status_code == 409
    assert "hubspot:42" in clash.json()["detail"]
    # Another CRM may use the same id, and another owner may too.
    await create_contact(client, owner, external_refs={"salesforce": "42"})
    await create_contact(client, other_owner, external_refs={"hubspot": "42"})
    listed = await client.get("/v1/contacts", headers=owner.headers)
    assert len(listed.json()["data"]) == 2


async def test_patch_changes_only_the_fields_sent(client, owner):
    contact = await create_contact(client, owner)
    response = await client.patch(
        f"/v1/contacts/{contact['id']}",
        json={"title": "Countess", "organization": None, "tags": ["new"]},
        headers=owner.headers,
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["title"] == "Countess"
    assert updated["organization"] is None
    assert updated["tags"] == ["new"]
    assert updated["display_name"] == contact["display_name"]
    assert updated["channels"] == contact["channels"]
    assert updated["updated_at"] > contact["updated_at"]
    tagged = await client.get("/v1/contacts", params={"tag": "new"}, headers=owner.headers)
    assert [c["id"] for c in tagged.json()["data"]] == [contact["id"]]
    old_tag = await client.get("/v1/contacts", params={"tag": "math"}, headers=owner.headers)
    assert old_tag.json()["data"] == []


async def test_patch_cannot_clear_required_fields(client, owner):
    contact = await create_contact(client, owner)
    response = await client.patch(
        f"/v1/contacts/{contact['id']}",
        json={"display_name": None, "tags": None},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"display_name", "tags"}


async def test_etag_changes_on_write_and_if_match_guards_lost_updates(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    first = await client.patch(
        url, json={"title": "A"}, headers={**owner.headers, "If-Match": etag}
    )
    assert first.status_code == 200
    assert first.headers["etag"] != etag
    # A second client still holding the old ETag must not overwrite the first one's change.
    second = await client.patch(
        url, json={"title": "B"}, headers={**owner.headers, "If-Match": etag}
    )
    assert second.status_code == 412
    assert (await client.get(url, headers=owner.headers)).json()["title"] == "A"


async def test_external_refs_can_move_between_contacts_by_patch(client, owner):
    a = await create_contact(client, owner, external_refs={"crm": "1"})
    b = await create_contact(client, owner, external_refs={})
    clash = await client.patch(
        f"/v1/contacts/{b['id']}", json={"external_refs": {"crm": "1"}}, headers=owner.headers
    )
    assert clash.status_code == 409
    await client.patch(f"/v1/contacts/{a['id']}", json={"external_refs": {}}, headers=owner.headers)
    moved = await client.patch(
        f"/v1/contacts/{b['id']}", json={"external_refs": {"crm": "1"}}, headers=owner.headers
    )
    assert moved.status_code == 200
    found = await client.get(
        "/v1/contacts", params={"external_ref": "crm:1"}, headers=owner.headers
    )
    assert [c["id"] for c in found.json()["data"]] == [b["id"]]


async def test_list_filters(client, owner):
    ada = await create_contact(
        client,
        owner,
        display_name="Ada Lovelace",
        organization="Engines",
        trust_stage="trusted",
        tags=["math"],
        external_refs={"hubspot": "1"},
        channels=[
            {"type": "email", "value": "ada@engines.example", "permitted_uses": ["marketing"]}
        ],
    )
    grace = await create_contact(
        client,
        owner,
        display_name="Grace Hopper",
        given_name="Grace",
        family_name="Hopper",
        organization="Navy",
        trust_stage="known",
        tags=["cobol"],
        external_refs={"hubspot": "2"},
        channels=[
            {"type": "email", "value": "grace@navy.example", "permitted_uses": ["introductions"]}
        ],
    )

    async def ids(**params):
        response = await client.get("/v1/contacts", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["data"]]

    assert await ids() == [ada["id"], grace["id"]]
    assert await ids(q="lovelace") == [ada["id"]]
    assert await ids(q="NAVY") == [grace["id"]]
    assert await ids(q="grace@navy") == [grace["id"]]
    assert await ids(q="%") == []  # LIKE wildcards are matched literally
    assert await ids(tag="cobol") == [grace["id"]]
    assert await ids(trust_stage="trusted") == [ada["id"]]
    assert await ids(channel_use="marketing") == [ada["id"]]
    assert await ids(channel_use="personal") == []
    assert await ids(external_ref="hubspot:2") == [grace["id"]]
    assert await ids(external_ref="hubspot:3") == []
    assert await ids(q="a", tag="math", trust_stage="trusted") == [ada["id"]]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await ids(updated_since=future) == []
    await client.patch(f"/v1/contacts/{grace['id']}", json={"notes": "x"}, headers=owner.headers)
    since = (await client.get(f"/v1/contacts/{grace['id']}", headers=owner.headers)).json()
    assert await ids(updated_since=since["updated_at"]) == [grace["id"]]


async def test_bad_filters_are_422(client, owner):
    for params in (
        {"trust_stage": "bestie"},
        {"channel_use": "spam"},
        {"external_ref": "no-colon"},
        {"updated_since": "last week"},
        {"updated_since": "2026-01-01T00:00:00"},
        {"stale": "maybe"},
    ):
        response = await client.get("/v1/contacts", params=params, headers=owner.headers)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"


async def test_stale_filter_follows_cadence_and_interactions(client, owner):
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    due = await create_contact(client, owner, display_name="Due", cadence_days=30)
    fresh = await create_contact(client, owner, display_name="Fresh", cadence_days=30)
    none = await create_contact(client, owner, display_name="No cadence", cadence_days=None)
    await client.post(
        f"/v1/contacts/{due['id']}/interactions",
        json={"kind": "call", "occurred_at": old},
        headers=owner.headers,
    )
    await client.post(
        f"/v1/contacts/{none['id']}/interactions",
        json={"kind": "call", "occurred_at": old},
        headers=owner.headers,
    )

    stale = await client.get("/v1/contacts", params={"stale": "true"}, headers=owner.headers)
    assert [c["id"] for c in stale.json()["data"]] == [due["id"]]
    not_stale = await client.get("/v1/contacts", params={"stale": "false"}, headers=owner.headers)
    assert [c["id"] for c in not_stale.json()["data"]] == [fresh["id"], none["id"]]
    # Catching up makes them current again.
    await client.post(
        f"/v1/contacts/{due['id']}/interactions", json={"kind": "coffee"}, headers=owner.headers
    )
    stale = await client.get("/v1/contacts", params={"stale": "true"}, headers=owner.headers)
    assert stale.json()["data"] == []


async def test_archive_hides_from_lists_but_keeps_readable(client, owner):
    contact = await create_contact(client, owner)
    other = await create_contact(client, owner, external_refs={})
    response = await client.delete(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert response.status_code == 204
    read = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert read.status_code == 200
    assert read.json()["archived_at"] is not None
    active = await client.get("/v1/contacts", headers=owner.headers)
    assert [c["id"] for c in active.json()["data"]] == [other["id"]]
    archived = await client.get("/v1/contacts", params={"archived": "true"}, headers=owner.headers)
    assert [c["id"] for c in archived.json()["data"]] == [contact["id"]]
    again = await client.delete(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert again.status_code == 204


async def test_erase_removes_personal_data_everywhere(client, owner, app):
    contact = await create_contact(
        client, owner, display_name="Secret Person", external_refs={"crm": "secret-1"}
    )
    cid = contact["id"]
    await client.post(
        f"/v1/contacts/{cid}/interactions",
        json={"kind": "call", "summary": "Talked about Secret Person's plans"},
        headers={**owner.headers, "Idempotency-Key": "int-1"},
    )
    await client.patch(f"/v1/contacts/{cid}", json={"notes": "secret notes"}, headers=owner.headers)

    response = await client.delete(
        f"/v1/contacts/{cid}", params={"erase": "true"}, headers=owner.headers
    )
    assert response.status_code == 204
    assert (await client.get(f"/v1/contacts/{cid}", headers=owner.headers)).status_code == 404
    assert (
        await client.get(f"/v1/contacts/{cid}/interactions", headers=owner.headers)
    ).status_code == 404
    for params in ({}, {"archived": "true"}, {"external_ref": "crm:secret-1"}, {"q": "secret"}):
        listed = await client.get("/v1/contacts", params=params, headers=owner.headers)
        assert listed.json()["data"] == [], params
    # The external ref is free again.
    await create_contact(client, owner, external_refs={"crm": "secret-1"})
    # Events keep their ids and types, and lose every personal field.
    async with app.state.sessionmaker() as session:
        events = (
            await session.exec(
                select(Event).where(Event.owner_id == owner.owner_id).order_by(Event.seq)
            )
        ).all()
    about = [e for e in events if e.resource_id == cid or e.contact_id == cid]
    assert [e.type for e in about][-1] == "contact.erased"
    assert {"contact.created", "interaction.created", "contact.updated"} <= {e.type for e in about}
    for event in about:
        assert "Secret" not in str(event.data) and "secret" not in str(event.data), event.type
    # An idempotent replay must not bring the erased data back either.
    replay = await client.post(
        f"/v1/contacts/{cid}/interactions",
        json={"kind": "call", "summary": "Talked about Secret Person's plans"},
        headers={**owner.headers, "Idempotency-Key": "int-1"},
    )
    assert replay.status_code == 410
    assert "Secret" not in replay.text
    assert replay.headers["content-type"] == "application/problem+json"


async def test_a_late_retry_cannot_recreate_an_erased_contact(client, owner):
    body = contact_body(display_name="Forget Me", external_refs={})
    headers = {**owner.headers, "Idempotency-Key": "create-1"}
    created = await client.post("/v1/contacts", json=body, headers=headers)
    await client.delete(
        f"/v1/contacts/{created.json()['id']}", params={"erase": "true"}, headers=owner.headers
    )
    retry = await client.post("/v1/contacts", json=body, headers=headers)
    assert retry.status_code == 410
    assert "Forget Me" not in retry.text
    listed = await client.get("/v1/contacts", params={"q": "forget"}, headers=owner.headers)
    assert listed.json()["data"] == []


async def test_patch_with_channels_keeps_their_defaults(client, owner):
    contact = await create_contact(client, owner)
    response = await client.patch(
        f"/v1/contacts/{contact['id']}",
        json={"channels": [{"type": "website", "value": "https://ada.example"}]},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["channels"] == [
        {"type": "website", "value": "https://ada.example", "permitted_uses": []}
    ]


async def test_erase_of_an_unknown_contact_is_404(client, owner):
    response = await client.delete(
        "/v1/contacts/ct_nope", params={"erase": "true"}, headers=owner.headers
    )
    assert response.status_code == 404


async def test_writes_record_events_in_the_same_transaction(client, owner, app):
    contact = await create_contact(client, owner)
    await client.patch(f"/v1/contacts/{contact['id']}", json={"title": "T"}, headers=owner.headers)
    await client.delete(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    # A refused write records nothing.
    await client.patch(
        f"/v1/contacts/{contact['id']}",
        json={"title": "U"},
        headers={**owner.headers, "If-Match": '"0"'},
    )
    async with app.state.sessionmaker() as session:
        events = (
            await session.exec(
                select(Event)
                .where(Event.owner_id == owner.owner_id, Event.resource == "contact")
                .order_by(Event.seq)
            )
        ).all()
    assert [e.type for e in events] == ["contact.created", "contact.updated", "contact.archived"]
    assert events[1].data["title"] == "T"
    assert all(e.resource_id == contact["id"] for e in events)


async def test_the_etag_changes_with_all_the_document_shows(client, owner, app):
    """A contact's document also shows its ledger totals, the owner's ratio and whether it
    is stale: none moves its version, and each changes its ETag, so a client's copy is never
    answered 304 once it is out of date, and a write against it is refused."""
    contact = await create_contact(client, owner, cadence_days=30)
    url = f"/v1/contacts/{contact['id']}"
    etags = [(await client.get(url, headers=owner.headers)).headers["etag"]]

    async def read_changed() -> dict:
        response = await client.get(url, headers={**owner.headers, "If-None-Match": etags[-1]})
        assert response.status_code == 200
        assert response.headers["etag"] not in etags
        etags.append(response.headers["etag"])
        return response.json()["reciprocity"]

    assert (
        await client.get(url, headers={**owner.headers, "If-None-Match": etags[0]})
    ).status_code == 304
    entry = {"contact_id": contact["id"], "direction": "gave", "kind": "advice", "weight": 1}
    assert (await client.post("/v1/ledger", json=entry, headers=owner.headers)).status_code == 201
    assert (await read_changed())["deposits"] == 1
    await client.patch("/v1/settings", json={"reciprocity_ratio": 3}, headers=owner.headers)
    assert (await read_changed())["ratio"] == 3
    async with app.state.sessionmaker() as session:  # a day past its cadence: time passed
        await session.exec(
            update(Contact)
            .where(Contact.owner_id == owner.owner_id, Contact.id == contact["id"])
            .values(due_at=datetime.now(UTC) - timedelta(days=1))
        )
        await commit(session)
    assert "stale" in (await read_changed())["flags"]
    # A write is held to the same ETag: the copy from before the time passed is stale.
    outdated = await client.patch(
        url, json={"title": "A"}, headers={**owner.headers, "If-Match": etags[-2]}
    )
    assert outdated.status_code == 412
    erase = await client.delete(url, headers={**owner.headers, "If-Match": etags[-2]})
    assert erase.status_code == 412
    current = await client.patch(
        url, json={"title": "A"}, headers={**owner.headers, "If-Match": etags[-1]}
    )
    assert current.status_code == 200
    deleted = await client.delete(
        url, headers={**owner.headers, "If-Match": current.headers["etag"]}
    )
    assert deleted.status_code == 204


async def test_tag_filters_repeat_for_contacts_with_every_tag(client, owner):
    both = await create_contact(client, owner, tags=["math", "poetry"], external_refs={})
    math = await create_contact(client, owner, tags=["math"], external_refs={})
    await create_contact(client, owner, tags=["poetry"], external_refs={})

    async def ids(*tags: str) -> list[str]:
        params = [("tag", tag) for tag in tags]
        response = await client.get("/v1/contacts", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["data"]]

    assert await ids("math") == [both["id"], math["id"]]
    assert await ids("math", "poetry") == [both["id"]]
    assert await ids("poetry", "math", "math") == [both["id"]]
    assert await ids("math", "chess") == []
    too_many = await client.get(
        "/v1/contacts", params=[("tag", f"t{n}") for n in range(21)], headers=owner.headers
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "tag"
