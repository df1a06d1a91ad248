"""Input is read as the schema says, not as leniently as the parser could."""

import pytest

from tests.factories import create_contact


@pytest.mark.parametrize("value", [413, 0.5, "1700000000", True, "yesterday"])
async def test_timestamps_must_be_rfc3339_text(client, owner, value):
    contact = await create_contact(client, owner)
    response = await client.post(
        f"/v1/contacts/{contact['id']}/interactions",
        json={"kind": "call", "occurred_at": value},
        headers=owner.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "occurred_at"
    listed = await client.get(
        "/v1/contacts", params={"updated_since": str(value)}, headers=owner.headers
    )
    assert listed.status_code == 422


@pytest.mark.parametrize("value", [True, "5", 2.0])
async def test_numbers_in_bodies_must_be_json_integers(client, owner, value):
    contact = await create_contact(client, owner)
    entry = await client.post(
        "/v1/ledger",
        json={"contact_id": contact["id"], "direction": "gave", "kind": "gift", "weight": value},
        headers=owner.headers,
    )
    assert entry.status_code == 422
    settings = await client.patch(
        "/v1/settings", json={"decline_cooldown_days": value}, headers=owner.headers
    )
    assert settings.status_code == 422
    assert (await client.get("/v1/settings", headers=owner.headers)).json()[
        "decline_cooldown_days"
    ] == 90


async def test_length_limits_count_what_was_sent(client, owner):
    too_long = await client.post(
        "/v1/contacts", json={"display_name": " " + "a" * 200}, headers=owner.headers
    )
    assert too_long.status_code == 422
    key = await client.post("/v1/api-keys", json={"name": " " + "k" * 100}, headers=owner.headers)
    assert key.status_code == 422
    trimmed = await client.post(
        "/v1/contacts", json={"display_name": "  Ada  ", "tags": [" x "]}, headers=owner.headers
    )
    assert trimmed.json()["display_name"] == "Ada"
    assert trimmed.json()["tags"] == ["x"]


async def test_blank_required_text_is_refused(client, owner):
    for body in ({"display_name": "   "}, {"display_name": "A", "tags": ["  "]}):
        response = await client.post("/v1/contacts", json=body, headers=owner.headers)
        assert response.status_code == 422, body


# At the calendar's ends an offset moves the instant past what a datetime can hold in UTC;
# outside 1900-2999 no networking happened or will be planned.
OUT_OF_RANGE_TIMES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:30:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:00:00-14:00",
    "9999-12-31T23:59:59Z",
    "1899-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
]


@pytest.mark.parametrize("value", OUT_OF_RANGE_TIMES)
async def test_timestamps_past_the_calendars_ends_are_422(client, owner, value):
    contact = await create_contact(client, owner)
    interaction = await client.post(
        f"/v1/contacts/{contact['id']}/interactions",
        json={"kind": "call", "occurred_at": value},
        headers=owner.headers,
    )
    entry = await client.post(
        "/v1/ledger",
        json={
            "contact_id": contact["id"],
            "direction": "gave",
            "kind": "gift",
            "weight": 1,
            "occurred_at": value,
        },
        headers=owner.headers,
    )
    listed = await client.get(
        "/v1/contacts", params={"updated_since": value}, headers=owner.headers
    )
    for response in (interaction, entry, listed):
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] in ("occurred_at", "updated_since")
    assert (await client.get("/v1/ledger", headers=owner.headers)).json()["data"] == []


async def test_timestamps_inside_the_range_keep_their_instant(client, owner):
    contact = await create_contact(client, owner)
    response = await client.post(
        f"/v1/contacts/{contact['id']}/interactions",
        json={"kind": "call", "occurred_at": "1900-01-02T13:30:00+14:00"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["occurred_at"].startswith("1900-01-01T23:30:00")
    listed = await client.get(
        "/v1/contacts", params={"updated_since": "2999-12-31T23:59:59Z"}, headers=owner.headers
    )
    assert listed.status_code == 200
    assert listed.json()["data"] == []


# Characters that show nothing: a name made only of them is as blank as spaces.
INVISIBLE = ["\u200b", "\u200c\u200d", "\ufeff", "\u2060", "\u00ad", "\u200e\u200f", "\u3164"]


@pytest.mark.parametrize("name", [*INVISIBLE, " \u200b\t", "\u2028", "\u180e"])
async def test_a_name_of_invisible_characters_is_blank(client, owner, name):
    response = await client.post("/v1/contacts", json={"display_name": name}, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "display_name"
    key = await client.post("/v1/api-keys", json={"name": name}, headers=owner.headers)
    assert key.status_code == 422


async def test_a_name_with_joiners_between_letters_is_kept(client, owner):
    # A zero-width joiner inside a name is real (emoji sequences, some scripts).
    name = "Ada \U0001f469\u200d\U0001f4bb"
    response = await client.post("/v1/contacts", json={"display_name": name}, headers=owner.headers)
    assert response.status_code == 201
    assert response.json()["display_name"] == name
