"""What a CRM syncing into Goodwill relies on: a second contact for the same email or
external reference refused with the one that has it (`existing_id`), `PUT .../by-ref/...`
and `POST /v1/contacts/batch`."""

from typing import Any

from tests.factories import Actor, contact_body, create_contact


def problem_of(response, status: int, type_: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith(type_), problem
    return problem


async def feed_after(client, actor: Actor, cursor: str | None) -> list[dict]:
    """Every event of the owner's feed after `cursor` (from the start when None)."""
    events: list[dict] = []
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/events", params=params, headers=actor.headers)).json()
        events += page["data"]
        if not page["data"]:
            return events
        cursor = page["next_cursor"]


async def feed_cursor(client, actor: Actor) -> str | None:
    """Where the feed stands now: the cursor to read what comes next from."""
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/events", params=params, headers=actor.headers)).json()
        if not page["data"]:
            return cursor
        cursor = page["next_cursor"]


async def contact_count(client, actor: Actor) -> int:
    count, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/contacts", params=params, headers=actor.headers)).json()
        count += len(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return count


def email(address: str) -> list[dict]:
    return [{"type": "email", "value": address, "permitted_uses": []}]


# --- 409 with existing_id ----------------------------------------------------------------


async def test_creating_a_contact_with_anothers_email_is_409_naming_it(client, owner):
    ada = await create_contact(client, owner, channels=email("ada@example.com"))
    before = await contact_count(client, owner)
    response = await client.post(
        "/v1/contacts",
        json=contact_body(channels=email("ADA@Example.com"), external_refs={}),
        headers=owner.headers,
    )
    problem = problem_of(response, 409, "email-taken")
    assert problem["existing_id"] == ada["id"]
    assert await contact_count(client, owner) == before


async def test_creating_a_contact_with_anothers_external_ref_is_409_naming_it(client, owner):
    ada = await create_contact(client, owner, external_refs={"hubspot": "hs-1"})
    response = await client.post(
        "/v1/contacts",
        json=contact_body(display_name="Other", external_refs={"hubspot": "hs-1"}),
        headers=owner.headers,
    )
    assert problem_of(response, 409, "external-ref-taken")["existing_id"] == ada["id"]


async def test_another_owners_and_erased_contacts_hold_no_email_or_ref(client, owner, other_owner):
    body = contact_body(channels=email("grace@example.com"), external_refs={"crm": "g-1"})
    await create_contact(client, other_owner, **body)
    erased = await create_contact(client, owner, **body)
    gone = await client.delete(f"/v1/contacts/{erased['id']}?erase=true", headers=owner.headers)
    assert gone.status_code == 204
    again = await client.post("/v1/contacts", json=body, headers=owner.headers)
    assert again.status_code == 201, again.text
    # An archived contact still holds them: it can be restored.
    archived = again.json()
    await client.delete(f"/v1/contacts/{archived['id']}", headers=owner.headers)
    response = await client.post("/v1/contacts", json=body, headers=owner.headers)
    assert problem_of(response, 409, "external-ref-taken")["existing_id"] == archived["id"]


async def test_patch_adding_anothers_email_or_ref_is_409_naming_it(client, owner):
    ada = await create_contact(
        client, owner, channels=email("ada@example.com"), external_refs={"crm": "a"}
    )
    bob = await create_contact(client, owner, channels=email("bob@example.com"), external_refs={})
    url = f"/v1/contacts/{bob['id']}"
    response = await client.patch(
        url, json={"channels": email("bob@example.com") + email("Ada@example.com")},
        headers=owner.headers,
    )  # fmt: skip
    assert problem_of(response, 409, "email-taken")["existing_id"] == ada["id"]
    response = await client.patch(url, json={"external_refs": {"crm": "a"}}, headers=owner.headers)
    assert problem_of(response, 409, "external-ref-taken")["existing_id"] == ada["id"]
    assert (await client.get(url, headers=owner.headers)).json() == {
        **bob,
        "reciprocity": (await client.get(url, headers=owner.headers)).json()["reciprocity"],
    }
    # Its own address, kept, and a new one nobody has: fine.
    kept = email("bob@example.com") + email("bob@work.example.com")
    response = await client.patch(url, json={"channels": kept}, headers=owner.headers)
    assert response.status_code == 200, response.text


# --- PUT /v1/contacts/by-ref/{system}/{external_id} ----------------------------------------

BY_REF = "/v1/contacts/by-ref/crm/42"


async def test_put_by_ref_creates_then_replaces_then_changes_nothing(client, owner):
    cursor = await feed_cursor(client, owner)
    body = {"display_name": "Grace", "tags": ["navy"], "cadence_days": 30}
    created = await client.put(BY_REF, json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    grace = created.json()
    assert created.headers["location"] == f"/v1/contacts/{grace['id']}"
    assert grace["external_refs"] == {"crm": "42"}
    assert grace["tags"] == ["navy"]
    read = await client.get(created.headers["location"], headers=owner.headers)
    assert read.headers["etag"] == created.headers["etag"]

    # The whole contact: what the body leaves out goes back to its default.
    body = {"display_name": "Grace Hopper", "title": "Rear Admiral", "external_refs": {"hs": "7"}}
    replaced = await client.put(BY_REF, json=body, headers=owner.headers)
    assert replaced.status_code == 200, replaced.text
    assert "location" not in replaced.headers
    doc = replaced.json()
    assert doc["id"] == grace["id"]
    assert (doc["display_name"], doc["title"], doc["tags"], doc["cadence_days"]) == (
        "Grace Hopper",
        "Rear Admiral",
        [],
        None,
    )
    assert doc["external_refs"] == {"crm": "42", "hs": "7"}
    assert replaced.headers["etag"] != created.headers["etag"]
    read = await client.get(f"/v1/contacts/{grace['id']}", headers=owner.headers)
    assert read.json() == doc and read.headers["etag"] == replaced.headers["etag"]

    # The same body again: nothing written, no new version, no event.
    same = await client.put(BY_REF, json=body, headers=owner.headers)
    assert same.status_code == 200
    assert same.json()["updated_at"] == doc["updated_at"]
    assert same.headers["etag"] == replaced.headers["etag"]
    events = await feed_after(client, owner, cursor)
    assert [(e["type"], e["resource_id"]) for e in events] == [
        ("contact.created", grace["id"]),
        ("contact.updated", grace["id"]),
    ]
    assert events[1]["data"]["title"] == "Rear Admiral"


async def test_put_by_ref_honours_if_match(client, owner):
    # No contact holds the ref yet: nothing matches an If-Match, not even `*`.
    for tag in ('"anything"', "*"):
        response = await client.put(
            BY_REF, json={"display_name": "Grace"}, headers={**owner.headers, "If-Match": tag}
        )
        problem_of(response, 412, "precondition-failed")
    assert await contact_count(client, owner) == 0
    created = await client.put(BY_REF, json={"display_name": "Grace"}, headers=owner.headers)
    etag = created.headers["etag"]
    stale = await client.put(
        BY_REF,
        json={"display_name": "Grace Hopper"},
        headers={**owner.headers, "If-Match": '"stale"'},
    )
    problem_of(stale, 412, "precondition-failed")
    url = f"/v1/contacts/{created.json()['id']}"
    assert (await client.get(url, headers=owner.headers)).json()["display_name"] == "Grace"
    current = await client.put(
        BY_REF, json={"display_name": "Grace Hopper"}, headers={**owner.headers, "If-Match": etag}
    )
    assert current.status_code == 200, current.text
    assert current.json()["display_name"] == "Grace Hopper"


async def test_put_by_ref_refuses_an_archived_contact_and_a_conflicting_body(client, owner):
    created = await client.put(BY_REF, json={"display_name": "Grace"}, headers=owner.headers)
    contact_id = created.json()["id"]
    mismatch = await client.put(
        BY_REF,
        json={"display_name": "Grace", "external_refs": {"crm": "43"}},
        headers=owner.headers,
    )
    problem = problem_of(mismatch, 422, "validation-error")
    assert problem["errors"][0]["field"] == "external_refs.crm"
    await client.delete(f"/v1/contacts/{contact_id}", headers=owner.headers)
    archived = await client.put(BY_REF, json={"display_name": "G"}, headers=owner.headers)
    assert problem_of(archived, 409, "contact-archived")["contact_id"] == contact_id
    read = await client.get(f"/v1/contacts/{contact_id}", headers=owner.headers)
    assert read.json()["display_name"] == "Grace"
    # Creating through PUT follows POST's rule: another's email is a 409 naming it.
    ada = await create_contact(client, owner, channels=email("ada@example.com"), external_refs={})
    taken = await client.put(
        "/v1/contacts/by-ref/crm/99",
        json={"display_name": "Ada", "channels": email("ada@example.com")},
        headers=owner.headers,
    )
    assert problem_of(taken, 409, "email-taken")["existing_id"] == ada["id"]


async def test_put_by_ref_never_touches_another_owners_contact(client, owner, other_owner):
    theirs = await client.put(BY_REF, json={"display_name": "Theirs"}, headers=other_owner.headers)
    mine = await client.put(BY_REF, json={"display_name": "Mine"}, headers=owner.headers)
    assert mine.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    read = await client.get(f"/v1/contacts/{theirs.json()['id']}", headers=other_owner.headers)
    assert read.json()["display_name"] == "Theirs"


# --- POST /v1/contacts/batch ---------------------------------------------------------------


async def test_a_batch_of_500_mixed_items_answers_each_and_writes_its_events(client, owner):
    a = await create_contact(
        client, owner, display_name="A", channels=email("a@example.com"), external_refs={"crm": "a"}
    )
    b = await create_contact(
        client, owner, display_name="B", channels=email("b@example.com"), external_refs={}
    )
    c = await create_contact(
        client, owner, display_name="C", channels=[], external_refs={"crm": "c"}
    )
    await client.delete(f"/v1/contacts/{c['id']}", headers=owner.headers)
    d = await create_contact(
        client, owner, display_name="D", channels=[], external_refs={"crm": "d"}
    )
    e = await create_contact(
        client, owner, display_name="E", channels=[], external_refs={"crm": "e"}
    )
    d_etag = (await client.get(f"/v1/contacts/{d['id']}", headers=owner.headers)).headers["etag"]
    cursor = await feed_cursor(client, owner)
    before = await contact_count(client, owner)

    items: list[Any] = [
        {"display_name": "A", "title": "Analyst", "external_refs": {"crm": "a"}},  # 0 updated
        {"display_name": "B", "channels": email("B@example.com"), "external_refs": {"crm": "b"}},
        {"display_name": "D", "external_refs": {"crm": "d"}},  # 2 unchanged
        {"display_name": "C", "external_refs": {"crm": "c"}},  # 3 archived
        {"display_name": ""},  # 4 invalid
        "not a contact",  # 5
        {"display_name": "X", "owner_id": "own_else"},  # 6 unknown field
        {"display_name": "A again", "external_refs": {"crm": "a"}},  # 7 same contact as 0
        {"display_name": "E", "channels": email("b@example.com"), "external_refs": {"crm": "e"}},
    ]
    for i in range(len(items), 500):
        if i % 10 == 0:
            items.append({"display_name": f"N{i}", "channels": email("not-an-email")})
        else:
            items.append(
                {
                    "display_name": f"N{i}",
                    "channels": email(f"n{i}@example.com"),
                    "external_refs": {"crm": f"n-{i}"},
                }
            )
    items[499] = {"display_name": "N9 again", "external_refs": {"crm": "n-9"}}
    assert len(items) == 500
    response = await client.post("/v1/contacts/batch", json={"items": items}, headers=owner.headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(500))

    def result(i: int) -> tuple[str, str | None, set[str]]:
        r = results[i]
        assert all(err["message"] for err in r["errors"])
        return r["status"], r["id"], {err["field"] for err in r["errors"]}

    assert result(0) == ("updated", a["id"], set())
    assert result(1) == ("updated", b["id"], set())
    assert result(2) == ("unchanged", d["id"], set())
    assert result(3) == ("rejected", None, {"external_refs"})
    assert c["id"] in results[3]["errors"][0]["message"]
    assert result(4) == ("rejected", None, {"display_name"})
    assert result(5) == ("rejected", None, {"item"})
    assert result(6) == ("rejected", None, {"owner_id"})
    assert result(7) == ("rejected", None, {"external_refs"})
    assert result(8) == ("rejected", None, {"channels"})  # b@ belongs to B
    assert b["id"] in results[8]["errors"][0]["message"]
    assert result(499) == ("rejected", None, {"external_refs"})
    new = {}
    for i in range(9, 499):
        status, contact_id, fields = result(i)
        if i % 10 == 0:
            assert (status, contact_id, fields) == ("rejected", None, {"channels[0]"})
        else:
            assert status == "created" and contact_id and not fields
            new[contact_id] = i
    assert len(new) == 441

    # The contacts written.
    assert await contact_count(client, owner) == before + len(new)
    for contact_id, i in list(new.items())[:: len(new) // 5]:
        doc = (await client.get(f"/v1/contacts/{contact_id}", headers=owner.headers)).json()
        assert doc["display_name"] == f"N{i}"
        assert doc["external_refs"] == {"crm": f"n-{i}"}
        assert doc["channels"][0]["value"] == f"n{i}@example.com"
    doc_a = (await client.get(f"/v1/contacts/{a['id']}", headers=owner.headers)).json()
    assert (doc_a["title"], doc_a["channels"]) == ("Analyst", a["channels"])
    doc_b = (await client.get(f"/v1/contacts/{b['id']}", headers=owner.headers)).json()
    assert doc_b["external_refs"] == {"crm": "b"}
    doc_e = (await client.get(f"/v1/contacts/{e['id']}", headers=owner.headers)).json()
    assert doc_e["channels"] == [] and doc_e["updated_at"] == e["updated_at"]
    d_read = await client.get(f"/v1/contacts/{d['id']}", headers=owner.headers)
    assert d_read.headers["etag"] == d_etag
    by_ref = await client.get("/v1/contacts?external_ref=crm:n-9", headers=owner.headers)
    assert [doc["display_name"] for doc in by_ref.json()["data"]] == ["N9"]

    # One event per contact created or updated, nothing for the rest.
    events = await feed_after(client, owner, cursor)
    created = [ev["resource_id"] for ev in events if ev["type"] == "contact.created"]
    updated = [ev["resource_id"] for ev in events if ev["type"] == "contact.updated"]
    assert sorted(created) == sorted(new) and len(created) == len(new)
    assert sorted(updated) == sorted([a["id"], b["id"]])
    assert len(events) == len(created) + len(updated)
    assert next(ev for ev in events if ev["resource_id"] == a["id"])["data"]["title"] == "Analyst"


async def test_a_batch_matches_by_ref_then_email_and_never_by_name(client, owner):
    ada = await create_contact(
        client, owner, display_name="Ada", channels=email("ada@example.com"), external_refs={}
    )
    items = [
        {
            "display_name": "Ada L.",
            "channels": email("ADA@example.com"),
            "external_refs": {"x": "1"},
        },
        {"display_name": "Ada"},  # the same name: another person, as far as a batch can tell
    ]
    response = await client.post("/v1/contacts/batch", json={"items": items}, headers=owner.headers)
    results = response.json()["results"]
    assert (results[0]["status"], results[0]["id"]) == ("updated", ada["id"])
    assert results[1]["status"] == "created" and results[1]["id"] != ada["id"]
    doc = (await client.get(f"/v1/contacts/{ada['id']}", headers=owner.headers)).json()
    assert doc["display_name"] == "Ada L." and doc["external_refs"] == {"x": "1"}
    # Sent again, by the ref it now has: unchanged.
    again = await client.post(
        "/v1/contacts/batch", json={"items": items[:1]}, headers=owner.headers
    )
    assert again.json()["results"][0] == {
        "index": 0,
        "status": "unchanged",
        "id": ada["id"],
        "errors": [],
    }


async def test_a_batch_over_500_items_or_not_a_list_is_422_and_writes_nothing(client, owner):
    items = [{"display_name": f"N{i}"} for i in range(501)]
    for body in ({"items": items}, {"items": "nope"}, {}, [], {"items": [], "extra": 1}):
        response = await client.post("/v1/contacts/batch", json=body, headers=owner.headers)
        problem_of(response, 422, "validation-error")
    assert await contact_count(client, owner) == 0
    empty = await client.post("/v1/contacts/batch", json={"items": []}, headers=owner.headers)
    assert empty.status_code == 200 and empty.json() == {"results": []}


async def test_a_batch_retried_with_its_idempotency_key_is_not_applied_twice(client, owner):
    headers = {**owner.headers, "Idempotency-Key": "batch-1"}
    body = {"items": [{"display_name": "Grace"}]}
    first = await client.post("/v1/contacts/batch", json=body, headers=headers)
    second = await client.post("/v1/contacts/batch", json=body, headers=headers)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await contact_count(client, owner) == 1
