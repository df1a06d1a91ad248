"""Editing a webhook (`PATCH`): each field, checked as at creation; and every change to a
webhook is an event of the feed, its secret never in it."""

import pytest

from tests.events.test_webhooks import HOOK, create_webhook, no_private_targets  # noqa: F401
from tests.factories import Actor


async def patch(client, actor: Actor, hook: dict, body: dict, **headers):
    return await client.patch(
        f"/v1/webhooks/{hook['id']}", json=body, headers={**actor.headers, **headers}
    )


async def read(client, actor: Actor, hook: dict):
    response = await client.get(f"/v1/webhooks/{hook['id']}", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response


async def webhook_events(client, actor: Actor) -> list[dict]:
    response = await client.get(
        "/v1/events", params={"type": "webhook.*", "limit": 200}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def without_secret(hook: dict) -> dict:
    return {k: v for k, v in hook.items() if k != "secret"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"url": "https://crm.example.net:8443/in"}, {"url": "https://crm.example.net:8443/in"}),
        (
            {"events": ["interaction.*", "contact.restored", "interaction.*"]},
            {"events": ["interaction.*", "contact.restored"]},
        ),
        ({"enabled": False}, {"status": "disabled"}),
        ({"description": "  Billing  "}, {"description": "Billing"}),
        ({"description": None}, {"description": None}),
    ],
    ids=["url", "events", "disable", "description", "clear-description"],
)
async def test_each_field_can_be_changed(client, owner, body, expected):
    hook = await create_webhook(client, owner, description="CRM")
    before = await read(client, owner, hook)
    response = await patch(client, owner, hook, body)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert {k: changed[k] for k in expected} == expected
    assert "secret" not in changed
    # Nothing else moved, and a read says the same, under a new ETag.
    untouched = set(changed) - set(expected) - {"updated_at", "disabled_reason", "disabled_at"}
    assert {k: changed[k] for k in untouched} == {k: hook[k] for k in untouched}
    assert changed["updated_at"] > hook["updated_at"]
    after = await read(client, owner, hook)
    assert after.json() == changed
    assert after.headers["etag"] == response.headers["etag"] != before.headers["etag"]


async def test_disabling_and_enabling_by_patch(client, owner):
    hook = await create_webhook(client, owner)
    disabled = (await patch(client, owner, hook, {"enabled": False})).json()
    assert disabled["status"] == "disabled"
    assert disabled["disabled_reason"] and disabled["disabled_at"]
    enabled = (await patch(client, owner, hook, {"enabled": True})).json()
    assert enabled["status"] == "active"
    assert enabled["disabled_reason"] is None and enabled["disabled_at"] is None


async def test_a_patch_that_changes_nothing_keeps_the_etag_and_the_feed(client, owner):
    hook = await create_webhook(client, owner)
    before = await read(client, owner, hook)
    events = await webhook_events(client, owner)
    same = {"url": hook["url"], "events": hook["events"], "enabled": True}
    for body in ({}, same):
        response = await patch(client, owner, hook, body)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == before.headers["etag"]
        assert response.json() == before.json()
    assert await webhook_events(client, owner) == events


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": "ftp://hooks.example.com/x"}, "url", "http"),
        ({"url": "https://user:pw@hooks.example.com/x"}, "url", "credentials"),
        ({"url": "https://unknown-host.invalid/x"}, "url", "does not resolve"),
        ({"url": None}, "url", "not cleared"),
        ({"events": []}, "events", "at least 1"),
        ({"events": ["contact.teleported"]}, "events[0]", "not a known event type"),
        ({"events": ["webhook.test"]}, "events[0]", "not a known event type"),
        ({"events": None}, "events", "not cleared"),
        ({"enabled": "maybe"}, "enabled", "boolean"),
        ({"enabled": None}, "enabled", "not cleared"),
        ({"secret": "whsec_mine"}, "secret", "unknown field"),
    ],
)
async def test_invalid_changes_are_422_and_change_nothing(client, owner, body, field, message):
    hook = await create_webhook(client, owner)
    before = await read(client, owner, hook)
    response = await patch(client, owner, hook, body)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert message in error["message"]
    after = await read(client, owner, hook)
    assert (after.json(), after.headers["etag"]) == (before.json(), before.headers["etag"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://[::ffff:10.0.0.1]/hooks",
        "http://intranet.example.com/hooks",
        "https://sneaky.example.com/hooks",
        "http://metadata.example.com/latest/meta-data",
        "http://hooks.example.com:0/hooks",
    ],
)
async def test_a_private_address_is_refused_as_at_creation(
    client,
    owner,
    no_private_targets,  # noqa: F811
    url,
):
    hook = await create_webhook(client, owner)
    response = await patch(client, owner, hook, {"url": url, "events": ["*"]})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["url"]
    assert (await read(client, owner, hook)).json() == without_secret(hook)


async def test_another_owners_webhook_is_404_and_unchanged(client, owner, other_owner):
    theirs = await create_webhook(client, other_owner)
    for body in ({"enabled": False}, {"url": "https://crm.example.net/x"}):
        response = await patch(client, owner, theirs, body)
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("webhook-not-found")
    assert (await read(client, other_owner, theirs)).json() == without_secret(theirs)
    nobody = await patch(client, owner, {"id": "wh_00000000000000000000000000"}, {})
    assert nobody.status_code == 404


async def test_if_match_guards_an_edit(client, owner):
    hook = await create_webhook(client, owner)
    etag = (await read(client, owner, hook)).headers["etag"]
    first = await patch(client, owner, hook, {"events": ["contact.*"]}, **{"If-Match": etag})
    assert first.status_code == 200, first.text
    # A second client, still holding the first ETag, would undo the first edit: 412.
    stale = await patch(client, owner, hook, {"events": ["ledger_entry.*"]}, **{"If-Match": etag})
    assert stale.status_code == 412, stale.text
    assert (await read(client, owner, hook)).json()["events"] == ["contact.*"]


@pytest.mark.parametrize(
    "events",
    [
        ["contact.restored", "interaction.updated", "interaction.deleted"],
        ["webhook.*"],
        ["webhook.created", "webhook.updated", "webhook.deleted"],
        ["reminder.*", "agenda_item.snoozed", "agenda_item.dismissed"],
        ["relationship.*"],
        ["relationship.created", "relationship.updated", "relationship.deleted"],
    ],
)
async def test_the_new_event_types_can_be_subscribed_to(client, owner, events):
    assert (await create_webhook(client, owner, events=events))["events"] == events


@pytest.mark.parametrize("pattern", ["relationships.*", "relationship.made", "warm_path.*"])
async def test_types_no_resource_records_are_refused_as_any_unknown_one(client, owner, pattern):
    """A subscription to a type nothing records (a plural, a verb the resource does not
    have, a read-only resource) is a mistake worth hearing about, as a typo is."""
    response = await client.post(
        "/v1/webhooks", json={**HOOK, "events": [pattern]}, headers=owner.headers
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["events[0]"]


async def test_every_change_to_a_webhook_is_in_the_feed_without_its_secret(client, owner):
    hook = await create_webhook(client, owner)
    url = f"/v1/webhooks/{hook['id']}"
    patched = (await patch(client, owner, hook, {"enabled": False})).json()
    enabled = (await client.post(f"{url}/enable", headers=owner.headers)).json()
    rotated = (await client.post(f"{url}/rotate-secret", json={}, headers=owner.headers)).json()
    assert (await client.delete(url, headers=owner.headers)).status_code == 204

    events = await webhook_events(client, owner)
    assert [(e["type"], e["resource"], e["resource_id"]) for e in events] == [
        ("webhook.created", "webhook", hook["id"]),
        ("webhook.updated", "webhook", hook["id"]),
        ("webhook.updated", "webhook", hook["id"]),
        ("webhook.updated", "webhook", hook["id"]),
        ("webhook.deleted", "webhook", hook["id"]),
    ]
    # Each carries the webhook as a read showed it then; no secret, old or new, anywhere.
    last = without_secret(rotated)
    assert [e["data"] for e in events] == [without_secret(hook), patched, enabled, last, last]
    text = str(events)
    assert hook["secret"] not in text and rotated["secret"] not in text
    assert "secret" not in {k for e in events for k in e["data"]}


async def test_a_refused_change_records_no_event(client, owner, other_owner):
    hook = await create_webhook(client, owner)
    before = await webhook_events(client, owner)
    await patch(client, owner, hook, {"url": "ftp://x"})
    await patch(client, owner, hook, {"events": ["x.y"]}, **{"If-Match": '"stale"'})
    await patch(client, other_owner, hook, {"enabled": False})
    assert await webhook_events(client, owner) == before
