"""Keyset pages in every sort order, and search that takes the client's text literally."""

from datetime import UTC, datetime, timedelta

import pytest

from app.contacts.schemas import ContactSort
from tests.factories import contact_body


async def _make(client, owner, name: str, **extra) -> str:
    body = contact_body(display_name=name, external_refs={}, **extra)
    response = await client.post("/v1/contacts", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _all(client, owner, **params) -> list[str]:
    response = await client.get("/v1/contacts", params=params, headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    return [c["id"] for c in body["data"]]


@pytest.mark.parametrize("sort", [s.value for s in ContactSort])
async def test_paging_two_at_a_time_lists_the_same_order_in_every_sort(client, owner, sort):
    # Ties on every sort key (names, balances, meetings) so that the id breaks them.
    ids = [await _make(client, owner, name) for name in ["bo", "Al", "al", "Cy", "bo", "Di"]]
    long_ago = datetime.now(UTC) - timedelta(days=3)
    for n, contact_id in enumerate(ids[:4]):
        meeting = {"kind": "call", "occurred_at": (long_ago + timedelta(hours=n % 2)).isoformat()}
        response = await client.post(
            f"/v1/contacts/{contact_id}/interactions", json=meeting, headers=owner.headers
        )
        assert response.status_code == 201
        entry = {"contact_id": contact_id, "direction": "gave", "kind": "advice", "weight": n % 2}
        entry["weight"] = 1 + n % 2
        assert (
            await client.post("/v1/ledger", json=entry, headers=owner.headers)
        ).status_code == 201

    whole = await _all(client, owner, sort=sort)
    assert sorted(whole) == sorted(ids)
    paged: list[str] = []
    params = {"sort": sort, "limit": 2}
    for _ in range(10):
        response = await client.get("/v1/contacts", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        paged += [c["id"] for c in page["data"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert paged == whole


async def test_search_takes_percent_underscore_slash_and_quotes_literally(client, owner):
    # The text is rendered into the SQL (app/contacts/listing.py): quoting must hold.
    quoted = await _make(client, owner, "O'Brien \\ Sons'; --")
    percent = await _make(client, owner, "100% Growth Partners")
    await _make(client, owner, "1000 Growth Partners")
    underscore = await _make(client, owner, "snake_case Ltd")
    await _make(client, owner, "snakeXcase Ltd")
    slash = await _make(client, owner, "A/B Testing")
    await _make(client, owner, "AB Testing")

    assert await _all(client, owner, q="100%") == [percent]
    assert await _all(client, owner, q="e_c") == [underscore]
    assert await _all(client, owner, q="a/b") == [slash]
    assert await _all(client, owner, q="%") == [percent]
    assert await _all(client, owner, q="o'brien \\ sons'; --") == [quoted]
    assert await _all(client, owner, q="'") == [quoted]
