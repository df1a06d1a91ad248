"""The change feed filtered by `type`: exact types and `resource.*` patterns, paged by the
same cursor, every matching event exactly once however sparse the matches."""

import pytest

from app.events import feed
from tests.factories import Actor, create_contact, create_introduction

# What each helper below adds to the feed, besides the contact.created it starts with.
TYPES_OF_A_BUSY_DAY = {
    "contact.created",
    "contact.updated",
    "interaction.created",
    "ledger_entry.created",
    "introduction.requested",
    "introduction.withdrawn",
}


async def busy_day(client, actor: Actor, n: int = 1) -> None:
    """Events of several resources, interleaved, `n` rounds of them."""
    for i in range(n):
        contact = await create_contact(
            client, actor, display_name=f"Ada {i}", external_refs={"crm": f"c-{i}"}
        )
        await client.post(
            f"/v1/contacts/{contact['id']}/interactions",
            json={"kind": "call", "summary": "Caught up"},
            headers=actor.headers,
        )
        await client.patch(
            f"/v1/contacts/{contact['id']}", json={"title": "Countess"}, headers=actor.headers
        )
        await client.post(
            "/v1/ledger",
            json={"contact_id": contact["id"], "direction": "gave", "kind": "advice", "weight": 1},
            headers=actor.headers,
        )
        other = await create_contact(
            client, actor, display_name=f"Theo {i}", external_refs={"crm": f"t-{i}"}
        )
        intro = await create_introduction(client, actor, contact["id"], other["id"])
        await client.post(
            f"/v1/introductions/{intro['id']}/withdraw",
            json={"reason": "Later"},
            headers=actor.headers,
        )


async def page(client, actor: Actor, **params) -> dict:
    response = await client.get("/v1/events", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"], "next_cursor is always given"
    return body


async def read_filtered(client, actor: Actor, types: list[str], limit: int = 200, cursor=None):
    """Every page until the cursor stops moving (the end of the feed, as it is now); the
    events and the number of pages it took."""
    events: list[dict] = []
    for pages in range(1, 1000):
        params = {"type": types, "limit": limit, **({"cursor": cursor} if cursor else {})}
        body = await page(client, actor, **params)
        events += body["data"]
        if body["next_cursor"] == cursor:
            assert body["data"] == []
            return events, cursor, pages
        cursor = body["next_cursor"]
    pytest.fail("the filtered feed never ran dry")


async def everything(client, actor: Actor) -> list[dict]:
    events, cursor = [], None
    while True:
        body = await page(client, actor, limit=200, **({"cursor": cursor} if cursor else {}))
        if not body["data"]:
            return events
        events += body["data"]
        cursor = body["next_cursor"]


@pytest.mark.parametrize(
    "types",
    [
        ["contact.created"],
        ["introduction.*"],
        ["contact.updated", "ledger_entry.*"],
        ["interaction.*", "interaction.created", "contact.*"],  # overlapping: each event once
        ["webhook.*"],  # a resource with no event yet: nothing, and no error
    ],
    ids=str,
)
async def test_a_filter_gives_the_matching_events_in_feed_order(client, owner, types):
    await busy_day(client, owner, n=2)
    expected = [
        e
        for e in await everything(client, owner)
        if any(e["type"] == t or (t.endswith(".*") and e["type"].startswith(t[:-1])) for t in types)
    ]
    events, _, _ = await read_filtered(client, owner, types)
    assert events == expected
    assert {e["type"] for e in events} <= TYPES_OF_A_BUSY_DAY | {"api_key.created"}
    if types != ["webhook.*"]:
        assert expected


@pytest.mark.parametrize("scan", [1, 3, 7, feed.FILTER_SCAN_ROWS])
@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_paging_a_filter_never_skips_or_repeats_a_match(
    client, owner, monkeypatch, scan, limit
):
    """Small scan bounds make pages that stop before `limit` matches, or hold none, in the
    middle of the feed; reading on from each cursor still sees every match once."""
    monkeypatch.setattr(feed, "FILTER_SCAN_ROWS", scan)
    await busy_day(client, owner, n=3)
    types = ["introduction.withdrawn", "ledger_entry.*"]
    expected = [
        e
        for e in await everything(client, owner)
        if e["type"] in ("introduction.withdrawn", "ledger_entry.created")
    ]
    assert len(expected) == 6
    events, _, pages = await read_filtered(client, owner, types, limit=limit)
    assert [e["id"] for e in events] == [e["id"] for e in expected]
    if scan == 1:  # one event of the feed per page: as many pages as events, and one more
        assert pages == len(await everything(client, owner)) + 1


async def test_a_page_reads_a_bounded_part_of_the_feed(client, owner, monkeypatch):
    """However rare the matches, one request reads at most FILTER_SCAN_ROWS events: it
    answers fewer (here none) and a cursor past what it read, to go on from."""
    monkeypatch.setattr(feed, "FILTER_SCAN_ROWS", 4)
    await busy_day(client, owner, n=2)
    first = await page(client, owner, type="introduction.withdrawn", limit=200)
    assert first["data"] == []
    unfiltered = await page(client, owner, limit=4)
    # The filtered page stopped where an unfiltered page of 4 does.
    assert first["next_cursor"] == unfiltered["next_cursor"]


async def test_polling_a_filter_from_the_last_cursor_sees_only_new_matches(client, owner):
    await busy_day(client, owner)
    _, cursor, _ = await read_filtered(client, owner, ["contact.*"])
    contact = await create_contact(client, owner, display_name="Grace", external_refs={})
    await client.post(
        f"/v1/contacts/{contact['id']}/interactions",
        json={"kind": "call", "summary": "Hello"},
        headers=owner.headers,
    )
    await client.delete(f"/v1/contacts/{contact['id']}", headers=owner.headers)
    events, _, _ = await read_filtered(client, owner, ["contact.*"], cursor=cursor)
    assert [(e["type"], e["resource_id"]) for e in events] == [
        ("contact.created", contact["id"]),
        ("contact.archived", contact["id"]),
    ]


async def test_one_cursor_serves_the_feed_with_or_without_a_filter(client, owner):
    """A cursor is a position in the feed: a client may change its filter and go on."""
    await busy_day(client, owner)
    all_events = await everything(client, owner)
    first = await page(client, owner, limit=3)
    filtered = await page(client, owner, cursor=first["next_cursor"], type="ledger_entry.*")
    assert [e["id"] for e in filtered["data"]] == [
        e["id"] for e in all_events[3:] if e["type"] == "ledger_entry.created"
    ]
    # `after`, the cursor's old name, works with a filter too.
    aliased = await page(client, owner, after=first["next_cursor"], type="ledger_entry.*")
    assert aliased == filtered
    # And back to the whole feed from where the filtered page stopped: what came after.
    later = await create_contact(client, owner, display_name="Grace", external_refs={})
    rest = await page(client, owner, cursor=filtered["next_cursor"])
    assert [(e["type"], e["resource_id"]) for e in rest["data"]] == [
        ("contact.created", later["id"])
    ]


async def test_a_filter_never_shows_another_owners_events(client, owner, other_owner):
    await busy_day(client, other_owner)
    await create_contact(client, owner)
    events, _, _ = await read_filtered(client, owner, ["contact.*", "introduction.*"])
    assert [e["type"] for e in events] == ["contact.created"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "pattern"),
        ("*", "leave `type` out"),
        ("contact", "pattern"),
        ("contact.", "pattern"),
        ("a.b.*", "pattern"),
        ("contact.created.x", "pattern"),
        ("Contact.created", "pattern"),
        ("contact.cre ated", "pattern"),
        ("contact.*x", "pattern"),
        ("contact.nope", "not a known event type"),
        ("contacts.*", "not a known event type"),
        ("webhook.test", "not a known event type"),  # sent to one webhook, never in the feed
        ("reminder.snoozed", "not a known event type"),  # agenda items are, not reminders
        ("x" * 65, "at most 64"),
    ],
)
async def test_an_unknown_type_or_pattern_is_422_naming_it(client, owner, value, message):
    response = await client.get(
        "/v1/events", params=[("type", "contact.created"), ("type", value)], headers=owner.headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == "type[1]"
    assert message in error["message"]


async def test_more_than_20_types_is_422(client, owner):
    too_many = [("type", "contact.created")] * 21
    response = await client.get("/v1/events", params=too_many, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "type"
    twenty = await client.get("/v1/events", params=too_many[:20], headers=owner.headers)
    assert twenty.status_code == 200


async def test_a_misspelled_filter_parameter_is_400(client, owner):
    response = await client.get("/v1/events?types=contact.created", headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "types", "message": "unknown query parameter"}]
