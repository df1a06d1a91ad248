"""Webhook subscriptions over HTTP: create, read, validate the target, rotate, delete."""

import base64

import httpx
import pytest

from tests.factories import Actor

HOOK = {"url": "https://hooks.example.com/goodwill", "events": ["contact.*", "introduction.made"]}


async def create_webhook(client, actor: Actor, **overrides) -> dict:
    response = await client.post("/v1/webhooks", json={**HOOK, **overrides}, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_answers_201_with_the_secret_shown_once(client, owner):
    response = await client.post(
        "/v1/webhooks", json={**HOOK, "description": "  CRM sync  "}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/webhooks/{created['id']}"
    assert created["url"] == HOOK["url"]
    assert created["events"] == HOOK["events"]
    assert created["description"] == "CRM sync"
    assert created["status"] == "active"
    assert created["disabled_reason"] is None
    # Standard Webhooks: whsec_ and the base64 of 24 to 64 random bytes.
    prefix, _, key = created["secret"].partition("_")
    assert prefix == "whsec"
    assert 24 <= len(base64.b64decode(key, validate=True)) <= 64

    read = await client.get(response.headers["location"], headers=owner.headers)
    assert read.status_code == 200
    assert read.headers["etag"]
    assert "secret" not in read.json()
    assert read.json() == {k: v for k, v in created.items() if k != "secret"}
    listed = await client.get("/v1/webhooks", headers=owner.headers)
    assert [w["id"] for w in listed.json()["data"]] == [created["id"]]
    assert "secret" not in listed.json()["data"][0]


async def test_every_subscription_gets_its_own_secret(client, owner):
    first = await create_webhook(client, owner)
    second = await create_webhook(client, owner)
    assert first["secret"] != second["secret"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/x", "http"),
        ("https://user:pass@hooks.example.com/x", "credentials"),
        ("https://token@hooks.example.com/x", "credentials"),
        ("https:///path-only", "host"),
        ("https://hooks.example.com:99999/x", "port"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks.example.com/a b", "spaces"),
        ("hooks.example.com/x", "https?"),
    ],
)
async def test_malformed_urls_are_422_on_the_url_field(client, owner, url, message):
    response = await client.post("/v1/webhooks", json={**HOOK, "url": url}, headers=owner.headers)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["url"]
    assert message in errors[0]["message"]


@pytest.mark.parametrize(
    "host",
    [
        "a..b",
        ".example.com",
        ".",
        "a" * 64 + ".example.com",
        ".".join(["a" * 63] * 4) + ".com",  # 260 characters
        "xn--zz.example.com",  # not a valid A-label
        "\N{PILE OF POO}.example.com",  # IDNA 2008 has no emoji
        "\N{ONE DOT LEADER}.example.com",  # folds to "." in IDNA 2003: an empty label
    ],
)
async def test_hosts_that_cannot_be_looked_up_are_422_on_the_url_field(app, client, owner, host):
    # As if DNS answered for them: only the form of the host may refuse it.
    app.state.resolver.hosts[host] = ["93.184.215.14"]
    try:
        response = await client.post(
            "/v1/webhooks", json={**HOOK, "url": f"https://{host}/hooks"}, headers=owner.headers
        )
    finally:
        del app.state.resolver.hosts[host]
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["url"]
    assert "host" in errors[0]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com./x",  # a fully qualified name
        "https://" + "a" * 63 + ".example.com/x",
        "https://b\N{LATIN SMALL LETTER U WITH DIAERESIS}cher.example.com/x",
    ],
)
async def test_hosts_at_the_limits_are_accepted(app, client, owner, url):
    host = httpx.URL(url).raw_host.decode()  # looked up as sent: xn--bcher-kva.example.com
    app.state.resolver.hosts[host] = ["93.184.215.14"]
    try:
        await create_webhook(client, owner, url=url)
    finally:
        del app.state.resolver.hosts[host]


@pytest.mark.parametrize(
    ("events", "fields"),
    [
        ([], {"events"}),
        (["contact.teleported"], {"events[0]"}),
        (["contact.*", "spaceship.*"], {"events[1]"}),
        (["Contact.Created"], {"events[0]"}),
        (["contact.**"], {"events[0]"}),
        ("contact.created", {"events"}),
    ],
)
async def test_unknown_event_types_are_422(client, owner, events, fields):
    response = await client.post(
        "/v1/webhooks", json={**HOOK, "events": events}, headers=owner.headers
    )
    assert response.status_code == 422, response.text
    assert {e["field"] for e in response.json()["errors"]} == fields


@pytest.mark.parametrize(
    "events", [["*"], ["ledger_entry.created"], ["introduction.*", "api_key.*"]]
)
async def test_types_resource_patterns_and_star_are_accepted(client, owner, events):
    assert (await create_webhook(client, owner, events=events))["events"] == events


@pytest.fixture
def no_private_targets(app):
    """Production's default: GOODWILL_WEBHOOK_ALLOW_PRIVATE unset."""
    allowing = app.state.settings
    app.state.settings = allowing.model_copy(update={"webhook_allow_private": False})
    try:
        yield
    finally:
        app.state.settings = allowing


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://[2002:7f00:1::]/hooks",  # 6to4, carrying 127.0.0.1
        "http://[2002:a9fe:a9fe::]/latest/meta-data",
        "http://hooks.example.com:0/hooks",
        "http://10.0.0.8/hooks",
        "http://192.168.1.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.example.com/latest/meta-data",
        "http://intranet.example.com/hooks",
        "https://sneaky.example.com/hooks",  # one public address and one loopback
        "http://100.64.0.1/hooks",
        "http://224.0.0.1/hooks",
        "http://0.0.0.0/hooks",
        "http://240.0.0.1/hooks",
        "http://unknown-host.invalid/hooks",
    ],
)
async def test_private_and_unresolvable_targets_are_refused(client, owner, no_private_targets, url):
    response = await client.post("/v1/webhooks", json={**HOOK, "url": url}, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["url"]
    assert (await client.get("/v1/webhooks", headers=owner.headers)).json()["data"] == []


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/x", "https://crm.example.net:8443/x", "http://8.8.8.8/x"]
)
async def test_public_targets_are_accepted_when_private_ones_are_refused(
    client, owner, no_private_targets, url
):
    await create_webhook(client, owner, url=url)


async def test_private_targets_are_accepted_when_allowed(client, owner):
    hook = await create_webhook(client, owner, url="http://127.0.0.1:9/hooks")
    assert hook["url"] == "http://127.0.0.1:9/hooks"


async def test_rotating_gives_a_new_secret_and_keeps_the_old_one_for_a_while(client, owner):
    hook = await create_webhook(client, owner)
    url = f"/v1/webhooks/{hook['id']}/rotate-secret"
    rotated = await client.post(url, json={}, headers=owner.headers)
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != hook["secret"]
    assert body["previous_secret_expires_at"] is not None
    read = await client.get(f"/v1/webhooks/{hook['id']}", headers=owner.headers)
    assert read.json()["previous_secret_expires_at"] == body["previous_secret_expires_at"]
    assert read.headers["etag"] != '"1"'

    at_once = await client.post(
        url, json={"previous_secret_valid_seconds": 0}, headers=owner.headers
    )
    assert at_once.json()["previous_secret_expires_at"] is None


async def test_deleted_webhooks_are_gone(client, owner):
    hook = await create_webhook(client, owner)
    deleted = await client.delete(f"/v1/webhooks/{hook['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    assert (
        await client.get(f"/v1/webhooks/{hook['id']}", headers=owner.headers)
    ).status_code == 404
    again = await client.delete(f"/v1/webhooks/{hook['id']}", headers=owner.headers)
    assert again.status_code == 404


async def test_an_owner_has_at_most_25_webhooks(client, owner):
    for _ in range(25):
        await create_webhook(client, owner)
    response = await client.post("/v1/webhooks", json=HOOK, headers=owner.headers)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("too-many-webhooks")


async def test_enabling_an_active_webhook_changes_nothing(client, owner):
    hook = await create_webhook(client, owner)
    response = await client.post(f"/v1/webhooks/{hook['id']}/enable", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    assert response.json()["updated_at"] == hook["updated_at"]
