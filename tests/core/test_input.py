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
