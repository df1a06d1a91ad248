from datetime import UTC, datetime, timedelta

from tests.factories import create_contact


def iso(dt: datetime) -> str:
    return dt.isoformat()


async def test_logging_an_interaction_moves_last_interaction_at(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}/interactions"
    when = datetime.now(UTC) - timedelta(days=3)
    response = await client.post(
        url,
        json={
            "kind": "coffee",
            "occurred_at": iso(when),
            "summary": "Flat white",
            "initiated_by": "them",
        },
        headers=owner.headers,
    )
    assert response.status_code == 201
    interaction = response.json()
    assert response.headers["location"] == f"{url}/{interaction['id']}"
    assert interaction["kind"] == "coffee"
    assert interaction["initiated_by"] == "them"
    assert interaction["contact_id"] == contact["id"]
    assert datetime.fromisoformat(interaction["occurred_at"]) == when
    read = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert datetime.fromisoformat(read.json()["last_interaction_at"]) == when
    # The contact's representation changed, so its ETag did too.
    assert read.headers["etag"] != '"1"'
    one = await client.get(response.headers["location"], headers=owner.headers)
    assert one.json() == interaction


async def test_an_older_interaction_does_not_move_last_interaction_back(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}/interactions"
    recent = datetime.now(UTC) - timedelta(hours=1)
    await client.post(url, json={"kind": "call", "occurred_at": iso(recent)}, headers=owner.headers)
    await client.post(
        url,
        json={"kind": "call", "occurred_at": iso(recent - timedelta(days=9))},
        headers=owner.headers,
    )
    read = await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    assert datetime.fromisoformat(read.json()["last_interaction_at"]) == recent


async def test_occurred_at_defaults_to_now_and_keeps_offsets(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}/interactions"
    before = datetime.now(UTC)
    now = await client.post(url, json={"kind": "message"}, headers=owner.headers)
    assert before <= datetime.fromisoformat(now.json()["occurred_at"]) <= datetime.now(UTC)
    tokyo = await client.post(
        url,
        json={"kind": "message", "occurred_at": "2026-01-02T09:00:00+09:00"},
        headers=owner.headers,
    )
    assert datetime.fromisoformat(tokyo.json()["occurred_at"]) == datetime(
        2026, 1, 2, 0, 0, tzinfo=UTC
    )


async def test_future_and_naive_times_are_refused(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}/interactions"
    future = iso(datetime.now(UTC) + timedelta(days=2))
    response = await client.post(
        url, json={"kind": "call", "occurred_at": future}, headers=owner.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "occurred_at", "message": "must not be in the future"}
    ]
    naive = await client.post(
        url, json={"kind": "call", "occurred_at": "2026-01-01T10:00:00"}, headers=owner.headers
    )
    assert naive.status_code == 422
    listed = await client.get(url, headers=owner.headers)
    assert listed.json()["data"] == []


async def test_a_time_ahead_is_taken_within_the_clock_slack_and_refused_beyond(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}/interactions"
    now = datetime.now(UTC)
    ahead = await client.post(
        url,
        json={"kind": "call", "occurred_at": iso(now + timedelta(minutes=2))},
        headers=owner.headers,
    )
    assert ahead.status_code == 201, ahead.text
    future = await client.post(
        url,
        json={"kind": "call", "occurred_at": iso(now + timedelta(minutes=10))},
        headers=owner.headers,
    )
    assert future.status_code == 422
    assert future.json()["errors"] == [
        {"field": "occurred_at", "message": "must not be in the future"}
    ]
    listed = await client.get(url, headers=owner.headers)
    assert [i["id"] for i in listed.json()["data"]] == [ahead.json()["id"]]


async def test_interactions_list_newest_first(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}/interactions"
    base = datetime.now(UTC) - timedelta(days=10)
    for days in (1, 5, 3):
        await client.post(
            url,
            json={"kind": "call", "occurred_at": iso(base + timedelta(days))},
            headers=owner.headers,
        )
    listed = await client.get(url, headers=owner.headers)
    times = [datetime.fromisoformat(i["occurred_at"]) for i in listed.json()["data"]]
    assert times == sorted(times, reverse=True)
    assert len(times) == 3


async def test_interactions_on_archived_contacts_are_refused_until_restored(client, owner):
    contact = await create_contact(client, owner)
    url = f"/v1/contacts/{contact['id']}"
    await client.delete(url, headers=owner.headers)
    response = await client.post(
        f"{url}/interactions", json={"kind": "event"}, headers=owner.headers
    )
    assert response.status_code == 409
    assert response.json()["type"].endswith("contact-archived")
    assert (await client.get(f"{url}/interactions", headers=owner.headers)).json()["data"] == []
    await client.post(f"{url}/restore", headers=owner.headers)
    response = await client.post(
        f"{url}/interactions", json={"kind": "event"}, headers=owner.headers
    )
    assert response.status_code == 201


async def test_interaction_of_another_contact_is_404(client, owner):
    a = await create_contact(client, owner)
    b = await create_contact(client, owner, external_refs={})
    made = await client.post(
        f"/v1/contacts/{a['id']}/interactions", json={"kind": "call"}, headers=owner.headers
    )
    wrong = await client.get(
        f"/v1/contacts/{b['id']}/interactions/{made.json()['id']}", headers=owner.headers
    )
    assert wrong.status_code == 404
