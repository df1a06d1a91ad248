"""Reminders through the API: planned touches with a contact, open until done."""

from datetime import UTC, datetime, timedelta

from tests.factories import create_contact

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)


async def a_contact(client, actor, **overrides) -> dict:
    # No channels or references: contacts of one test never share an address or a CRM id.
    return await create_contact(client, actor, channels=[], external_refs={}, **overrides)


async def remind(client, actor, contact_id: str, due: datetime, note: str | None = None) -> dict:
    body = {"contact_id": contact_id, "due_at": due.isoformat(), "note": note}
    response = await client.post("/v1/reminders", json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def listed(client, actor, **params) -> list[dict]:
    response = await client.get("/v1/reminders", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def feed(client, actor, **params) -> list[dict]:
    params = {"limit": 200, **params}
    response = await client.get("/v1/events", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def when(response_value: str) -> datetime:
    return datetime.fromisoformat(response_value)


async def test_a_reminder_is_created_read_changed_and_deleted(client, owner):
    ada = await a_contact(client, owner, display_name="Ada")
    due = NOW + 5 * DAY
    created = await client.post(
        "/v1/reminders",
        json={"contact_id": ada["id"], "due_at": due.isoformat(), "note": "After her launch"},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    reminder = created.json()
    assert reminder["contact_id"] == ada["id"]
    assert when(reminder["due_at"]) == due
    assert reminder["note"] == "After her launch"
    assert reminder["done_at"] is None
    assert created.headers["location"] == f"/v1/reminders/{reminder['id']}"
    one = created.headers["location"]

    read = await client.get(one, headers=owner.headers)
    assert read.status_code == 200
    assert read.json() == reminder
    assert read.headers["etag"] == created.headers["etag"]

    later = due + 2 * DAY
    changed = await client.patch(
        one,
        json={"due_at": later.isoformat(), "note": None},
        headers={**owner.headers, "If-Match": read.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert when(changed.json()["due_at"]) == later
    assert changed.json()["note"] is None
    assert changed.headers["etag"] != read.headers["etag"]
    assert (await client.get(one, headers=owner.headers)).json() == changed.json()

    deleted = await client.delete(one, headers=owner.headers)
    assert deleted.status_code == 204
    gone = await client.get(one, headers=owner.headers)
    assert gone.status_code == 404
    assert gone.json()["type"].endswith("reminder-not-found")
    assert await listed(client, owner) == []


async def test_due_at_may_be_past_or_future_but_within_bounds(client, owner):
    ada = await a_contact(client, owner)
    overdue = await remind(client, owner, ada["id"], NOW - 30 * DAY)
    assert when(overdue["due_at"]) == NOW - 30 * DAY
    # Given with an offset, kept as the same instant in UTC.
    offset = await client.post(
        "/v1/reminders",
        json={"contact_id": ada["id"], "due_at": "2027-01-12T09:00:00+02:00"},
        headers=owner.headers,
    )
    assert offset.status_code == 201, offset.text
    assert offset.json()["due_at"] == "2027-01-12T07:00:00Z"
    for due_at in ("3000-01-01T00:00:00Z", "2027-01-12", "2027-01-12T09:00:00", 1767225600, None):
        response = await client.post(
            "/v1/reminders", json={"contact_id": ada["id"], "due_at": due_at}, headers=owner.headers
        )
        assert response.status_code == 422, due_at
        assert [e["field"] for e in response.json()["errors"]] == ["due_at"]
    too_long = await client.post(
        "/v1/reminders",
        json={"contact_id": ada["id"], "due_at": NOW.isoformat(), "note": "x" * 2001},
        headers=owner.headers,
    )
    assert too_long.status_code == 422
    assert [e["field"] for e in too_long.json()["errors"]] == ["note"]
    assert len(await listed(client, owner)) == 2


async def test_the_contact_is_fixed_and_due_at_cannot_be_cleared(client, owner):
    ada, bob = await a_contact(client, owner), await a_contact(client, owner)
    reminder = await remind(client, owner, ada["id"], NOW + DAY)
    one = f"/v1/reminders/{reminder['id']}"
    for body, field in (({"contact_id": bob["id"]}, "contact_id"), ({"due_at": None}, "due_at")):
        response = await client.patch(one, json=body, headers=owner.headers)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await client.get(one, headers=owner.headers)).json() == reminder


async def test_a_patch_that_changes_nothing_keeps_the_version_and_records_no_event(client, owner):
    ada = await a_contact(client, owner)
    reminder = await remind(client, owner, ada["id"], NOW + DAY, note="Call")
    one = f"/v1/reminders/{reminder['id']}"
    etag = (await client.get(one, headers=owner.headers)).headers["etag"]
    same = await client.patch(
        one, json={"note": "Call", "due_at": reminder["due_at"]}, headers=owner.headers
    )
    assert same.status_code == 200
    assert same.headers["etag"] == etag
    assert same.json() == reminder
    assert [e["type"] for e in await feed(client, owner, type="reminder.*")] == ["reminder.created"]


async def test_stale_if_match_is_412_and_changes_nothing(client, owner):
    ada = await a_contact(client, owner)
    reminder = await remind(client, owner, ada["id"], NOW + DAY, note="Call")
    one = f"/v1/reminders/{reminder['id']}"
    etag = (await client.get(one, headers=owner.headers)).headers["etag"]
    moved = await client.patch(one, json={"note": "Call on Friday"}, headers=owner.headers)
    assert moved.status_code == 200
    stale = {**owner.headers, "If-Match": etag}
    refused = await client.patch(one, json={"note": "Lunch"}, headers=stale)
    assert refused.status_code == 412
    assert (await client.delete(one, headers=stale)).status_code == 412
    assert (await client.get(one, headers=owner.headers)).json() == moved.json()
    current = {**owner.headers, "If-Match": moved.headers["etag"]}
    assert (await client.delete(one, headers=current)).status_code == 204


async def test_done_closes_it_once_and_a_second_done_answers_the_same(client, owner):
    ada = await a_contact(client, owner)
    reminder = await remind(client, owner, ada["id"], NOW - DAY)
    one = f"/v1/reminders/{reminder['id']}"
    open_etag = (await client.get(one, headers=owner.headers)).headers["etag"]
    done = await client.post(f"{one}/done", json={}, headers=owner.headers)
    assert done.status_code == 200, done.text
    done_at = when(done.json()["done_at"])
    assert abs(done_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert done.json()["updated_at"] == done.json()["done_at"]
    assert done.headers["etag"] != open_etag
    assert (await client.get(one, headers=owner.headers)).headers["etag"] == done.headers["etag"]

    # A retry, or a second device tapping done: the same success, nothing written again.
    again = await client.post(f"{one}/done", headers=owner.headers)
    assert again.status_code == 200
    assert again.json() == done.json()
    assert again.headers["etag"] == done.headers["etag"]
    types = [e["type"] for e in await feed(client, owner, type="reminder.*")]
    assert types == ["reminder.created", "reminder.done"]

    # Still readable and listed among the done ones, not the open ones.
    assert [r["id"] for r in await listed(client, owner, done="true")] == [reminder["id"]]
    assert await listed(client, owner, done="false") == []
    # The plan can still be moved, and it stays done.
    moved = await client.patch(one, json={"note": "Called"}, headers=owner.headers)
    assert moved.json()["done_at"] == done.json()["done_at"]


async def test_done_takes_an_empty_object_only(client, owner):
    ada = await a_contact(client, owner)
    reminder = await remind(client, owner, ada["id"], NOW)
    response = await client.post(
        f"/v1/reminders/{reminder['id']}/done",
        json={"done_at": NOW.isoformat()},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert (await client.get(f"/v1/reminders/{reminder['id']}", headers=owner.headers)).json()[
        "done_at"
    ] is None


async def test_filters_by_contact_due_before_and_done(client, owner):
    ada, bob = await a_contact(client, owner), await a_contact(client, owner)
    a1 = await remind(client, owner, ada["id"], NOW + 3 * DAY)
    a2 = await remind(client, owner, ada["id"], NOW - 2 * DAY)
    b1 = await remind(client, owner, bob["id"], NOW + DAY)
    b2 = await remind(client, owner, bob["id"], NOW + 10 * DAY)
    await client.post(f"/v1/reminders/{b1['id']}/done", headers=owner.headers)

    def ids(rows: list[dict]) -> list[str]:
        return [r["id"] for r in rows]

    # Soonest due first.
    assert ids(await listed(client, owner)) == [a2["id"], b1["id"], a1["id"], b2["id"]]
    assert ids(await listed(client, owner, contact_id=ada["id"])) == [a2["id"], a1["id"]]
    assert ids(await listed(client, owner, done="false")) == [a2["id"], a1["id"], b2["id"]]
    assert ids(await listed(client, owner, done="true")) == [b1["id"]]
    # Strictly before: one due exactly then is not.
    before = (NOW + 3 * DAY).isoformat()
    assert ids(await listed(client, owner, due_before=before)) == [a2["id"], b1["id"]]
    assert ids(await listed(client, owner, due_before=before, done="false")) == [a2["id"]]
    assert (
        ids(await listed(client, owner, due_before=before, done="false", contact_id=bob["id"]))
        == []
    )
    assert await listed(client, owner, contact_id="ct_00000000000000000000000000") == []
    for params in ({"due_before": "tomorrow"}, {"done": "maybe"}, {"due_before": "2027-01-01"}):
        response = await client.get("/v1/reminders", params=params, headers=owner.headers)
        assert response.status_code == 422, params
        assert [e["field"] for e in response.json()["errors"]] == list(params)


async def test_pages_follow_due_date_then_id_and_keep_the_filters(client, owner):
    ada = await a_contact(client, owner)
    # Several due at the same moment: the id breaks the tie.
    made = [await remind(client, owner, ada["id"], NOW + (i // 2) * DAY) for i in range(7)]
    await client.post(f"/v1/reminders/{made[3]['id']}/done", headers=owner.headers)
    expected = [
        r["id"] for r in sorted(made, key=lambda r: (r["due_at"], r["id"])) if r is not made[3]
    ]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "done": "false", **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/reminders", params=params, headers=owner.headers)
        assert page.status_code == 200, page.text
        assert len(page.json()["data"]) <= 2
        seen += [r["id"] for r in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_an_archived_contact_takes_no_new_reminder_nor_changes(client, owner):
    ada = await a_contact(client, owner)
    reminder = await remind(client, owner, ada["id"], NOW + DAY, note="Call")
    one = f"/v1/reminders/{reminder['id']}"
    archived = await client.delete(f"/v1/contacts/{ada['id']}", headers=owner.headers)
    assert archived.status_code == 204
    before = await feed(client, owner)

    refused = await client.post(
        "/v1/reminders",
        json={"contact_id": ada["id"], "due_at": NOW.isoformat()},
        headers=owner.headers,
    )
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("contact-archived")
    changed = await client.patch(one, json={"note": "Lunch"}, headers=owner.headers)
    assert changed.status_code == 409
    assert changed.json()["type"].endswith("contact-archived")
    assert [r["id"] for r in await listed(client, owner)] == [reminder["id"]]
    assert (await client.get(one, headers=owner.headers)).json() == reminder
    assert await feed(client, owner) == before

    # Closing the plan is still allowed: done, or deleted.
    done = await client.post(f"{one}/done", headers=owner.headers)
    assert done.status_code == 200
    assert (await client.delete(one, headers=owner.headers)).status_code == 204

    restored = await client.post(f"/v1/contacts/{ada['id']}/restore", headers=owner.headers)
    assert restored.status_code == 200
    await remind(client, owner, ada["id"], NOW + DAY)


async def test_another_owners_reminders_and_contacts_do_not_exist(client, owner, other_owner):
    theirs = await a_contact(client, other_owner, display_name="Theirs")
    their_reminder = await remind(client, other_owner, theirs["id"], NOW + DAY, note="Private")
    one = f"/v1/reminders/{their_reminder['id']}"
    nobody = "/v1/reminders/rem_00000000000000000000000000"

    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"note": "Mine now"}),
        ("DELETE", "", None),
        ("POST", "/done", {}),
    ):
        response = await client.request(method, one + suffix, json=body, headers=owner.headers)
        missing = await client.request(method, nobody + suffix, json=body, headers=owner.headers)
        assert response.status_code == missing.status_code == 404, (method, suffix)
        assert response.json()["type"] == missing.json()["type"]
        assert response.json()["type"].endswith("reminder-not-found")

    # Referencing another owner's contact: as if it did not exist.
    borrowed = await client.post(
        "/v1/reminders",
        json={"contact_id": theirs["id"], "due_at": NOW.isoformat()},
        headers=owner.headers,
    )
    assert borrowed.status_code == 404
    assert borrowed.json()["type"].endswith("contact-not-found")
    assert await listed(client, owner) == []
    assert await listed(client, owner, contact_id=theirs["id"]) == []
    # Theirs is untouched.
    assert (await client.get(one, headers=other_owner.headers)).json() == their_reminder
    assert [r["id"] for r in await listed(client, other_owner)] == [their_reminder["id"]]


async def test_every_change_is_an_event_in_the_feed(client, owner):
    ada = await a_contact(client, owner)
    reminder = await remind(client, owner, ada["id"], NOW + DAY, note="Call")
    one = f"/v1/reminders/{reminder['id']}"
    changed = (await client.patch(one, json={"note": "Lunch"}, headers=owner.headers)).json()
    done = (await client.post(f"{one}/done", headers=owner.headers)).json()
    assert (await client.delete(one, headers=owner.headers)).status_code == 204

    events = await feed(client, owner, type="reminder.*")
    assert [(e["type"], e["resource"], e["resource_id"]) for e in events] == [
        ("reminder.created", "reminder", reminder["id"]),
        ("reminder.updated", "reminder", reminder["id"]),
        ("reminder.done", "reminder", reminder["id"]),
        ("reminder.deleted", "reminder", reminder["id"]),
    ]
    # Each carries the reminder as it was right after the change; deleted, as it was.
    assert [e["data"] for e in events] == [reminder, changed, done, done]
    only_done = await feed(client, owner, type="reminder.done")
    assert [e["type"] for e in only_done] == ["reminder.done"]


async def test_webhooks_subscribe_to_reminder_events(client, owner):
    response = await client.post(
        "/v1/webhooks",
        json={"url": "https://hooks.example.com/r", "events": ["reminder.*", "reminder.done"]},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["events"] == ["reminder.*", "reminder.done"]
    unknown = await client.post(
        "/v1/webhooks",
        json={"url": "https://hooks.example.com/r", "events": ["reminder.snoozed"]},
        headers=owner.headers,
    )
    assert unknown.status_code == 422


async def test_erasing_the_contact_removes_its_reminders_and_scrubs_their_events(client, owner):
    ada = await a_contact(client, owner, display_name="Ada")
    bob = await a_contact(client, owner, display_name="Bob")
    gone = await remind(client, owner, ada["id"], NOW + DAY, note="Ask about her diagnosis")
    done = await remind(client, owner, ada["id"], NOW - DAY, note="Private")
    await client.post(f"/v1/reminders/{done['id']}/done", headers=owner.headers)
    kept = await remind(client, owner, bob["id"], NOW + DAY, note="Bob's")

    erased = await client.delete(
        f"/v1/contacts/{ada['id']}", params={"erase": "true"}, headers=owner.headers
    )
    assert erased.status_code == 204, erased.text
    assert [r["id"] for r in await listed(client, owner)] == [kept["id"]]
    for reminder in (gone, done):
        response = await client.get(f"/v1/reminders/{reminder['id']}", headers=owner.headers)
        assert response.status_code == 404
    events = await feed(client, owner, type="reminder.*")
    about_ada = [e for e in events if e["resource_id"] in (gone["id"], done["id"])]
    assert len(about_ada) == 3
    assert all(e["data"] == {"erased": True} for e in about_ada)
    assert "diagnosis" not in str(events)
    assert [e["data"] for e in events if e["resource_id"] == kept["id"]] == [kept]
    # No reminder can be planned for the erased person.
    again = await client.post(
        "/v1/reminders",
        json={"contact_id": ada["id"], "due_at": NOW.isoformat()},
        headers=owner.headers,
    )
    assert again.status_code == 404


async def test_reminders_are_in_the_export(client, owner):
    ada = await a_contact(client, owner)
    open_one = await remind(client, owner, ada["id"], NOW + DAY, note="Call")
    done = await remind(client, owner, ada["id"], NOW - DAY)
    done = (await client.post(f"/v1/reminders/{done['id']}/done", headers=owner.headers)).json()
    response = await client.get("/v1/export", headers=owner.headers)
    assert response.status_code == 200
    exported = sorted(response.json()["reminders"], key=lambda r: r["id"])
    assert exported == sorted([open_one, done], key=lambda r: r["id"])
