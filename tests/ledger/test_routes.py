from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.core.outbox import Event
from tests.factories import create_contact


async def record(client, owner, contact_id, direction="gave", weight=1, kind="advice", **extra):
    response = await client.post(
        "/v1/ledger",
        json={
            "contact_id": contact_id,
            "direction": direction,
            "kind": kind,
            "weight": weight,
            **extra,
        },
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def reciprocity(client, owner, contact_id, **params):
    response = await client.get(
        f"/v1/contacts/{contact_id}/reciprocity", params=params, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_record_an_entry(client, owner, app):
    contact = await create_contact(client, owner)
    when = datetime.now(UTC) - timedelta(days=2)
    response = await client.post(
        "/v1/ledger",
        json={
            "contact_id": contact["id"],
            "direction": "gave",
            "kind": "introduction",
            "weight": 3,
            "occurred_at": when.isoformat(),
            "note": "Introduced to Babbage",
        },
        headers=owner.headers,
    )
    assert response.status_code == 201
    entry = response.json()
    assert response.headers["location"] == f"/v1/ledger/{entry['id']}"
    assert entry | {"id": None, "created_at": None} == {
        "id": None,
        "contact_id": contact["id"],
        "direction": "gave",
        "kind": "introduction",
        "weight": 3,
        "occurred_at": when.isoformat().replace("+00:00", "Z"),
        "note": "Introduced to Babbage",
        "reverses_id": None,
        "reversed_by_id": None,
        "introduction_id": None,
        "created_at": None,
    }
    assert (await client.get(f"/v1/ledger/{entry['id']}", headers=owner.headers)).json() == entry
    async with app.state.sessionmaker() as session:
        event = (await session.exec(select(Event).where(Event.resource_id == entry["id"]))).one()
    assert event.type == "ledger_entry.created"
    assert event.data["weight"] == 3


async def test_entries_are_append_only(client, owner):
    contact = await create_contact(client, owner)
    entry = await record(client, owner, contact["id"])
    for method in ("PATCH", "DELETE", "PUT"):
        response = await client.request(
            method, f"/v1/ledger/{entry['id']}", json={"weight": 5}, headers=owner.headers
        )
        assert response.status_code == 405, method
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/v1/ledger/{entry['id']}", headers=owner.headers)).json() == entry


async def test_invalid_entries_are_refused(client, owner):
    contact = await create_contact(client, owner)
    cases = [
        ({"weight": 0}, "weight"),
        ({"weight": 6}, "weight"),
        ({"direction": "took"}, "direction"),
        ({"kind": "bribe"}, "kind"),
        ({"occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),
        ({"occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, "occurred_at"),
    ]
    for change, field in cases:
        body = {
            "contact_id": contact["id"],
            "direction": "gave",
            "kind": "advice",
            "weight": 1,
            **change,
        }
        response = await client.post("/v1/ledger", json=body, headers=owner.headers)
        assert response.status_code == 422, change
        assert field in {e["field"] for e in response.json()["errors"]}, change
    listed = await client.get("/v1/ledger", headers=owner.headers)
    assert listed.json()["data"] == []
    assert (await reciprocity(client, owner, contact["id"]))["deposits"] == 0


async def test_a_time_ahead_is_taken_within_the_clock_slack_and_refused_beyond(client, owner):
    contact = await create_contact(client, owner)
    body = {"contact_id": contact["id"], "direction": "gave", "kind": "advice", "weight": 1}
    now = datetime.now(UTC)
    ahead = await client.post(
        "/v1/ledger",
        json={**body, "occurred_at": (now + timedelta(minutes=2)).isoformat()},
        headers=owner.headers,
    )
    assert ahead.status_code == 201, ahead.text
    future = await client.post(
        "/v1/ledger",
        json={**body, "occurred_at": (now + timedelta(minutes=10)).isoformat()},
        headers=owner.headers,
    )
    assert future.status_code == 422
    assert future.json()["errors"] == [
        {"field": "occurred_at", "message": "must not be in the future"}
    ]
    assert (await reciprocity(client, owner, contact["id"]))["deposits"] == 1


async def test_entry_for_an_unknown_or_foreign_contact_is_404(client, owner, other_owner):
    theirs = await create_contact(client, other_owner)
    for contact_id in (theirs["id"], "ct_missing"):
        response = await client.post(
            "/v1/ledger",
            json={"contact_id": contact_id, "direction": "gave", "kind": "advice", "weight": 1},
            headers=owner.headers,
        )
        assert response.status_code == 404
    assert (await reciprocity(client, other_owner, theirs["id"]))["deposits"] == 0


async def test_reciprocity_follows_the_entries(client, owner):
    contact = await create_contact(client, owner)
    for _ in range(10):
        await record(client, owner, contact["id"], "gave", 1)
    await record(client, owner, contact["id"], "received", 1, kind="favor")
    summary = await reciprocity(client, owner, contact["id"])
    assert summary == {
        "deposits": 10,
        "withdrawals": 1,
        "ratio": 7,
        "goodwill": 3,
        "ask_weight": 1,
        "can_ask": False,
        "deposits_needed": 4,
        "flags": [],
    }
    await record(client, owner, contact["id"], "gave", 4)
    assert (await reciprocity(client, owner, contact["id"]))["can_ask"] is True
    heavy = await reciprocity(client, owner, contact["id"], ask_weight=5)
    assert heavy["can_ask"] is False and heavy["deposits_needed"] == 28
    assert (
        await client.get(
            f"/v1/contacts/{contact['id']}/reciprocity",
            params={"ask_weight": 6},
            headers=owner.headers,
        )
    ).status_code == 422


async def test_reciprocity_uses_the_owners_ratio(client, owner):
    contact = await create_contact(client, owner)
    await record(client, owner, contact["id"], "gave", 5)
    await record(client, owner, contact["id"], "received", 1)
    assert (await reciprocity(client, owner, contact["id"]))["flags"] == ["overdrawn"]
    await client.patch("/v1/settings", json={"reciprocity_ratio": 3}, headers=owner.headers)
    summary = await reciprocity(client, owner, contact["id"])
    assert summary["ratio"] == 3 and summary["goodwill"] == 2 and summary["flags"] == []


async def test_flags_one_sided_overdrawn_stale(client, owner):
    giver = await create_contact(client, owner, external_refs={})
    for _ in range(7):
        await record(client, owner, giver["id"], "gave", 1)
    assert (await reciprocity(client, owner, giver["id"]))["flags"] == ["one_sided"]
    taker = await create_contact(client, owner, external_refs={})
    await record(client, owner, taker["id"], "received", 2)
    assert (await reciprocity(client, owner, taker["id"]))["flags"] == ["overdrawn"]
    old = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    quiet = await create_contact(client, owner, external_refs={}, cadence_days=30)
    await client.post(
        f"/v1/contacts/{quiet['id']}/interactions",
        json={"kind": "call", "occurred_at": old},
        headers=owner.headers,
    )
    assert (await reciprocity(client, owner, quiet["id"]))["flags"] == ["stale"]


async def test_reversal_cancels_an_entry_once(client, owner):
    contact = await create_contact(client, owner)
    entry = await record(client, owner, contact["id"], "received", 3)
    response = await client.post(
        f"/v1/ledger/{entry['id']}/reversal",
        json={"note": "Logged on the wrong person"},
        headers=owner.headers,
    )
    assert response.status_code == 201
    reversal = response.json()
    assert reversal["reverses_id"] == entry["id"]
    assert reversal["weight"] == -3 and reversal["direction"] == "received"
    assert response.headers["location"] == f"/v1/ledger/{reversal['id']}"
    original = (await client.get(f"/v1/ledger/{entry['id']}", headers=owner.headers)).json()
    assert original["reversed_by_id"] == reversal["id"]
    assert original["weight"] == 3  # never changed
    summary = await reciprocity(client, owner, contact["id"])
    assert summary["withdrawals"] == 0 and summary["goodwill"] == 0

    twice = await client.post(f"/v1/ledger/{entry['id']}/reversal", json={}, headers=owner.headers)
    assert twice.status_code == 409
    assert reversal["id"] in twice.json()["detail"]
    of_reversal = await client.post(
        f"/v1/ledger/{reversal['id']}/reversal", json={}, headers=owner.headers
    )
    assert of_reversal.status_code == 409
    assert (await reciprocity(client, owner, contact["id"]))["withdrawals"] == 0
    missing = await client.post("/v1/ledger/le_missing/reversal", json={}, headers=owner.headers)
    assert missing.status_code == 404


async def test_list_filters_and_order(client, owner):
    a = await create_contact(client, owner, external_refs={})
    b = await create_contact(client, owner, external_refs={})
    now = datetime.now(UTC)
    first = await record(
        client, owner, a["id"], "gave", 1, occurred_at=(now - timedelta(days=3)).isoformat()
    )
    second = await record(
        client,
        owner,
        b["id"],
        "received",
        2,
        kind="gift",
        occurred_at=(now - timedelta(days=2)).isoformat(),
    )
    third = await record(
        client, owner, a["id"], "received", 1, occurred_at=(now - timedelta(days=1)).isoformat()
    )

    async def ids(**params):
        response = await client.get("/v1/ledger", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["data"]]

    assert await ids() == [third["id"], second["id"], first["id"]]
    assert await ids(contact_id=a["id"]) == [third["id"], first["id"]]
    assert await ids(direction="received") == [third["id"], second["id"]]
    assert await ids(kind="gift") == [second["id"]]
    assert await ids(contact_id="ct_other") == []
    assert (
        await client.get("/v1/ledger", params={"kind": "bribe"}, headers=owner.headers)
    ).status_code == 422


async def test_contact_reads_embed_reciprocity(client, owner):
    contact = await create_contact(client, owner)
    assert contact["reciprocity"]["goodwill"] == 0
    await record(client, owner, contact["id"], "gave", 2)
    read = (await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)).json()
    assert read["reciprocity"]["deposits"] == 2
    listed = (await client.get("/v1/contacts", headers=owner.headers)).json()["data"]
    assert listed[0]["reciprocity"]["deposits"] == 2


async def test_contacts_sort_and_filter_by_goodwill_and_flags(client, owner):
    names = {}
    for name, gave, received in [
        ("Ann", 3, 0),
        ("Bob", 0, 1),
        ("Cy", 10, 0),
        ("Di", 8, 1),
        ("Ed", 0, 0),
    ]:
        contact = await create_contact(client, owner, display_name=name, external_refs={})
        names[contact["id"]] = name
        for _ in range(gave):
            await record(client, owner, contact["id"], "gave", 1)
        for _ in range(received):
            await record(client, owner, contact["id"], "received", 1)

    async def order(**params):
        seen, cursor = [], None
        while True:
            page_params = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
            response = await client.get("/v1/contacts", params=page_params, headers=owner.headers)
            assert response.status_code == 200, response.text
            seen += [names[c["id"]] for c in response.json()["data"]]
            cursor = response.json()["next_cursor"]
            if cursor is None:
                return seen

    # goodwill: Ann 3, Bob -7, Cy 10, Di 1, Ed 0 (ties by id, i.e. creation)
    assert await order(sort="goodwill") == ["Bob", "Ed", "Di", "Ann", "Cy"]
    assert await order(sort="-goodwill") == ["Cy", "Ann", "Di", "Ed", "Bob"]
    assert await order(sort="display_name") == ["Ann", "Bob", "Cy", "Di", "Ed"]
    assert await order(sort="-created_at") == ["Ed", "Di", "Cy", "Bob", "Ann"]
    assert await order(flag="overdrawn") == ["Bob"]
    assert await order(flag="one_sided") == ["Cy"]
    assert await order(flag=["one_sided", "overdrawn"]) == []
    assert await order(flag="one_sided", sort="-goodwill") == ["Cy"]
    bad = await client.get("/v1/contacts", params={"sort": "shoe_size"}, headers=owner.headers)
    assert bad.status_code == 422
    # A cursor from one order is refused by another.
    page = await client.get(
        "/v1/contacts", params={"limit": 1, "sort": "goodwill"}, headers=owner.headers
    )
    other = await client.get(
        "/v1/contacts",
        params={"cursor": page.json()["next_cursor"], "sort": "display_name"},
        headers=owner.headers,
    )
    assert other.status_code == 400


async def test_sort_by_last_interaction_puts_never_met_first(client, owner):
    now = datetime.now(UTC)
    never = await create_contact(client, owner, display_name="Never", external_refs={})
    recent = await create_contact(client, owner, display_name="Recent", external_refs={})
    old = await create_contact(client, owner, display_name="Old", external_refs={})
    for contact, days in ((recent, 1), (old, 30)):
        await client.post(
            f"/v1/contacts/{contact['id']}/interactions",
            json={"kind": "call", "occurred_at": (now - timedelta(days=days)).isoformat()},
            headers=owner.headers,
        )
    listed = await client.get(
        "/v1/contacts", params={"sort": "last_interaction_at"}, headers=owner.headers
    )
    assert [c["id"] for c in listed.json()["data"]] == [never["id"], old["id"], recent["id"]]


async def test_erasure_keeps_anonymous_totals_only(client, owner):
    contact = await create_contact(client, owner)
    await record(client, owner, contact["id"], "gave", 4, note="Private matter")
    await client.delete(
        f"/v1/contacts/{contact['id']}", params={"erase": "true"}, headers=owner.headers
    )
    listed = await client.get("/v1/ledger", headers=owner.headers)
    assert listed.json()["data"] == []
    assert "Private" not in listed.text
    response = await client.get(f"/v1/contacts/{contact['id']}/reciprocity", headers=owner.headers)
    assert response.status_code == 404


async def test_an_entry_moves_only_its_contacts_total(client, owner, other_owner):
    contact = await create_contact(client, owner)
    bystander = await create_contact(client, owner, display_name="Bystander")
    others = await create_contact(client, other_owner)
    await record(client, owner, contact["id"], direction="gave", weight=4)
    await record(client, owner, contact["id"], direction="received", weight=1)
    after = (await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)).json()
    # Every field but the totals is what it was: the entry's own id, owner and timestamps
    # never land on the contact.
    assert {k: v for k, v in after.items() if k != "reciprocity"} == {
        k: v for k, v in contact.items() if k != "reciprocity"
    }
    assert (after["reciprocity"]["deposits"], after["reciprocity"]["withdrawals"]) == (4, 1)
    for untouched, actor in ((bystander, owner), (others, other_owner)):
        now = (await client.get(f"/v1/contacts/{untouched['id']}", headers=actor.headers)).json()
        assert now == untouched


async def test_an_entrys_etag_changes_only_with_its_representation(client, owner):
    """Entries keep no version; their ETag is a digest of the entry as read, so it stays put
    while nothing changes, and changes once the entry is reversed."""
    contact = await create_contact(client, owner)
    created = await client.post(
        "/v1/ledger",
        json={"contact_id": contact["id"], "direction": "gave", "kind": "advice", "weight": 2},
        headers=owner.headers,
    )
    url = created.headers["location"]
    etag = created.headers["etag"]
    read = await client.get(url, headers=owner.headers)
    assert read.headers["etag"] == etag
    unchanged = await client.get(url, headers={**owner.headers, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    other = await record(client, owner, contact["id"])
    other_etag = (await client.get(f"/v1/ledger/{other['id']}", headers=owner.headers)).headers[
        "etag"
    ]
    assert other_etag != etag  # an ETag names one entry's representation
    reversal = await client.post(
        f"/v1/ledger/{read.json()['id']}/reversal", json={}, headers=owner.headers
    )
    assert reversal.status_code == 201
    reversed_ = await client.get(url, headers={**owner.headers, "If-None-Match": etag})
    assert reversed_.status_code == 200
    assert reversed_.json()["reversed_by_id"] == reversal.json()["id"]
    assert reversed_.headers["etag"] != etag


async def test_a_balance_is_answered_304_until_it_changes(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}/reciprocity"
    first = await client.get(url, headers=owner.headers)
    etag = first.headers["etag"]
    conditional = {**owner.headers, "If-None-Match": etag}
    assert (await client.get(url, headers=conditional)).status_code == 304
    # Another ask is another resource, with its own representation.
    heavier = await client.get(url, params={"ask_weight": 3}, headers=conditional)
    assert heavier.status_code == 200
    await record(client, owner, contact["id"])
    moved = await client.get(url, headers=conditional)
    assert moved.status_code == 200 and moved.json()["deposits"] == 1
