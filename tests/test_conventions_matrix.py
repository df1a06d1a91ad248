"""The API.md conventions, checked on every endpoint rather than on one example each.

The endpoints are the app's own operations (its OpenAPI document, generated from its routes),
each looked up in the table below for what the matrix needs to call it; an operation the
table does not describe, or describes but the app no longer has, fails
`test_the_matrix_describes_every_operation_of_the_app`, so none escapes the matrix.
"""

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from app.agenda.items import for_owner, item_id
from app.agenda.schemas import AgendaKind
from app.core.config import Settings
from app.core.reads import Reader
from app.core.unit_of_work import session_scope
from app.events.delivery import fan_out
from app.main import create_app
from app.network.kept import data_version
from tests.factories import Actor, contact_body, create_contact, create_introduction


@dataclass
class World:
    contact_id: str
    interaction_id: str
    key_id: str
    entry_id: str
    target_id: str
    intro_id: str
    webhook_id: str = "wh_00000000000000000000000000"
    delivery_id: str = "whd_00000000000000000000000000"
    reminder_id: str = "rem_00000000000000000000000000"
    relationship_id: str = "rel_00000000000000000000000000"
    feed_id: str = "cal_00000000000000000000000000"
    # An item id of no owner's (build_world gives the world one of its owner's).
    item_id: str = "ag_00000000000000000000000000"

    def path_ids(self) -> dict[str, str]:
        """The value of each path parameter of the app's path templates."""
        return {
            "contact_id": self.contact_id,
            "interaction_id": self.interaction_id,
            "key_id": self.key_id,
            "entry_id": self.entry_id,
            "introduction_id": self.intro_id,
            "webhook_id": self.webhook_id,
            "delivery_id": self.delivery_id,
            "reminder_id": self.reminder_id,
            "relationship_id": self.relationship_id,
            "feed_id": self.feed_id,
            # A calendar feed's secret (GET /calendar/{token}.ics), of no feed.
            "token": "no-such-feed",
            "item_id": self.item_id,
            # An external reference no contact of the world holds.
            "system": "crm",
            "external_id": "crm-1",
        }


async def build_world(client, actor: Actor) -> World:
    # First, so that it is subscribed to everything that follows.
    webhook = await client.post("/v1/webhooks", json=WEBHOOK, headers=actor.headers)
    assert webhook.status_code == 201, webhook.text
    # A delivery to redeliver (not sent: no worker runs).
    delivery = await client.post(f"/v1/webhooks/{webhook.json()['id']}/test", headers=actor.headers)
    assert delivery.status_code == 202, delivery.text
    contact = await create_contact(client, actor)
    interaction = await client.post(
        f"/v1/contacts/{contact['id']}/interactions",
        json={"kind": "call", "summary": "Caught up"},
        headers=actor.headers,
    )
    assert interaction.status_code == 201, interaction.text
    key = await client.post("/v1/api-keys", json={"name": "spare"}, headers=actor.headers)
    assert key.status_code == 201, key.text
    entry = await client.post(
        "/v1/ledger",
        json={"contact_id": contact["id"], "direction": "gave", "kind": "advice", "weight": 2},
        headers=actor.headers,
    )
    assert entry.status_code == 201, entry.text
    target = await create_contact(client, actor, display_name="Theo", external_refs={})
    intro = await create_introduction(client, actor, contact["id"], target["id"])
    reminder = await client.post(
        "/v1/reminders", json={**REMINDER, "contact_id": contact["id"]}, headers=actor.headers
    )
    assert reminder.status_code == 201, reminder.text
    relationship = await client.post(
        "/v1/relationships",
        json={"contact_ids": [contact["id"], target["id"]], "kind": "colleague"},
        headers=actor.headers,
    )
    assert relationship.status_code == 201, relationship.text
    world = World(
        contact["id"],
        interaction.json()["id"],
        key.json()["id"],
        entry.json()["id"],
        target["id"],
        intro["id"],
        webhook.json()["id"],
        delivery.json()["id"],
        reminder.json()["id"],
        relationship.json()["id"],
    )
    feed = await client.post("/v1/calendar-feeds", json=FEED, headers=actor.headers)
    assert feed.status_code == 201, feed.text
    world.feed_id = feed.json()["id"]
    # Items are computed: any id of the owner's may be snoozed, not only today's.
    world.item_id = for_owner(
        actor.owner_id, item_id(AgendaKind.touch_overdue, world.contact_id, "")
    )
    return world


def endpoint_body(body: dict[str, Any], world: World) -> dict[str, Any]:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.format(contact=world.contact_id, target=world.target_id)
        if isinstance(value, list):  # a relationship's contact_ids
            return [fill(item) for item in value]
        return value

    return {k: fill(v) for k, v in body.items()}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    body: dict[str, Any] | None = None
    write: bool = False
    lists: bool = False
    # False where the world's resource is in a state the request is refused in (409).
    succeeds: bool = True
    # True where a success is 202: work queued (a delivery), not a resource with an ETag.
    accepted: bool = False
    # A query string the operation needs (`target_id={target}`), filled like a body.
    query: str = ""

    @property
    def operation(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def url(self, world: World, *, query: bool = True) -> str:
        url = self.path.format(**world.path_ids())
        if query and self.query:
            url += "?" + self.query.format(contact=world.contact_id, target=world.target_id)
        return url

    def payload(self, world: World) -> dict[str, Any] | None:
        return None if self.body is None else endpoint_body(self.body, world)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


INTERACTION = {"kind": "coffee", "summary": "Talked about engines"}
INTRODUCTION = {
    "requester_id": "{target}",
    "target_id": "{contact}",
    "reason": "Wants advice",
    "benefit_to_target": "A new customer",
}
CONSENT = {"decision": "accept", "evidence": "Said yes on the phone"}
FEEDBACK = {"from": "requester", "outcome": "connected"}
LEDGER_ENTRY = {"contact_id": "{contact}", "direction": "gave", "kind": "share", "weight": 1}
WEBHOOK = {"url": "https://hooks.example.com/goodwill", "events": ["*"]}
REMINDER = {"contact_id": "{contact}", "due_at": "2026-12-12T09:00:00Z", "note": "After the launch"}
SNOOZE = {"until": "2099-01-01T09:00:00Z"}
FEED = {"name": "Phone"}
# Another kind than the world's own relationship between the two.
RELATIONSHIP = {"contact_ids": ["{contact}", "{target}"], "kind": "friend", "strength": 4}
BATCH = {"items": [{"display_name": "Grace", "external_refs": {"crm": "batch-1"}}]}

TABLE = [
    Endpoint("GET", "/v1/me"),
    Endpoint("POST", "/v1/api-keys", {"name": "ci", "scopes": ["read"]}, write=True),
    Endpoint("GET", "/v1/api-keys", lists=True),
    Endpoint("GET", "/v1/api-keys/{key_id}"),
    Endpoint("DELETE", "/v1/api-keys/{key_id}", write=True),
    Endpoint("POST", "/v1/contacts", contact_body(external_refs={}), write=True),
    Endpoint("GET", "/v1/contacts", lists=True),
    Endpoint("GET", "/v1/contacts/{contact_id}"),
    Endpoint("PATCH", "/v1/contacts/{contact_id}", {"title": "Countess"}, write=True),
    Endpoint("DELETE", "/v1/contacts/{contact_id}", write=True),
    Endpoint(
        "PUT", "/v1/contacts/by-ref/{system}/{external_id}", {"display_name": "Grace"}, write=True
    ),
    Endpoint("POST", "/v1/contacts/batch", BATCH, write=True),
    # The world's contact is not archived.
    Endpoint("POST", "/v1/contacts/{contact_id}/restore", {}, write=True, succeeds=False),
    Endpoint("POST", "/v1/contacts/{contact_id}/interactions", INTERACTION, write=True),
    Endpoint("GET", "/v1/contacts/{contact_id}/interactions", lists=True),
    Endpoint("GET", "/v1/contacts/{contact_id}/interactions/{interaction_id}"),
    Endpoint(
        "PATCH",
        "/v1/contacts/{contact_id}/interactions/{interaction_id}",
        {"summary": "Caught up properly"},
        write=True,
    ),
    Endpoint("DELETE", "/v1/contacts/{contact_id}/interactions/{interaction_id}", write=True),
    Endpoint("GET", "/v1/settings"),
    Endpoint("PATCH", "/v1/settings", {"follow_up_after_days": 21}, write=True),
    Endpoint("POST", "/v1/ledger", LEDGER_ENTRY, write=True),
    Endpoint("GET", "/v1/ledger", lists=True),
    Endpoint("GET", "/v1/ledger/{entry_id}"),
    Endpoint("POST", "/v1/ledger/{entry_id}/reversal", {"note": "mistake"}, write=True),
    Endpoint("GET", "/v1/contacts/{contact_id}/reciprocity"),
    # The other direction: the world's introduction already holds (contact, target).
    Endpoint("POST", "/v1/introductions", INTRODUCTION, write=True),
    Endpoint("GET", "/v1/introductions", lists=True),
    Endpoint("GET", "/v1/introductions/{introduction_id}"),
    Endpoint("PATCH", "/v1/introductions/{introduction_id}", {"offer": "Lunch"}, write=True),
    Endpoint("GET", "/v1/introductions/{introduction_id}/events", lists=True),
    Endpoint("POST", "/v1/introductions/{introduction_id}/consent-request", {}, write=True),
    Endpoint("POST", "/v1/introductions/{introduction_id}/consent", CONSENT, write=True),
    Endpoint(
        "POST",
        "/v1/introductions/{introduction_id}/make",
        {"note": "Sent"},
        write=True,
        succeeds=False,
    ),
    Endpoint(
        "POST", "/v1/introductions/{introduction_id}/feedback", FEEDBACK, write=True, succeeds=False
    ),
    Endpoint(
        "POST", "/v1/introductions/{introduction_id}/withdraw", {"reason": "Later"}, write=True
    ),
    Endpoint("POST", "/v1/reminders", REMINDER, write=True),
    Endpoint("GET", "/v1/reminders", lists=True),
    Endpoint("GET", "/v1/reminders/{reminder_id}"),
    Endpoint("PATCH", "/v1/reminders/{reminder_id}", {"note": "Call on Friday"}, write=True),
    Endpoint("DELETE", "/v1/reminders/{reminder_id}", write=True),
    Endpoint("POST", "/v1/reminders/{reminder_id}/done", {}, write=True),
    Endpoint("POST", "/v1/relationships", RELATIONSHIP, write=True),
    Endpoint("GET", "/v1/relationships", lists=True),
    Endpoint("GET", "/v1/relationships/{relationship_id}"),
    Endpoint("PATCH", "/v1/relationships/{relationship_id}", {"strength": 5}, write=True),
    Endpoint("DELETE", "/v1/relationships/{relationship_id}", write=True),
    Endpoint("GET", "/v1/warm-paths", query="target_id={target}"),
    Endpoint("GET", "/v1/suggestions", lists=True),
    Endpoint("GET", "/v1/agenda", lists=True),
    Endpoint("POST", "/v1/agenda/{item_id}/snooze", SNOOZE, write=True),
    Endpoint("POST", "/v1/agenda/{item_id}/dismiss", {}, write=True),
    Endpoint("POST", "/v1/calendar-feeds", FEED, write=True),
    Endpoint("GET", "/v1/calendar-feeds", lists=True),
    Endpoint("GET", "/v1/calendar-feeds/{feed_id}"),
    Endpoint("DELETE", "/v1/calendar-feeds/{feed_id}", write=True),
    Endpoint("GET", "/v1/export"),
    Endpoint("GET", "/v1/export.vcf"),
    Endpoint("GET", "/v1/events", lists=True),
    Endpoint("POST", "/v1/webhooks", WEBHOOK, write=True),
    Endpoint("GET", "/v1/webhooks", lists=True),
    Endpoint("GET", "/v1/webhooks/{webhook_id}"),
    Endpoint("PATCH", "/v1/webhooks/{webhook_id}", {"events": ["contact.*"]}, write=True),
    Endpoint("DELETE", "/v1/webhooks/{webhook_id}", write=True),
    Endpoint("GET", "/v1/webhooks/{webhook_id}/deliveries", lists=True),
    Endpoint("POST", "/v1/webhooks/{webhook_id}/rotate-secret", {}, write=True),
    Endpoint("POST", "/v1/webhooks/{webhook_id}/enable", {}, write=True),
    Endpoint("POST", "/v1/webhooks/{webhook_id}/test", {}, write=True, accepted=True),
    Endpoint(
        "POST",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        {},
        write=True,
        accepted=True,
    ),
]
# The app's operations the matrix leaves out, and why. (The consent page, which the person
# asked opens without a key, is not in the OpenAPI document at all.)
NOT_IN_THE_MATRIX = {
    ("POST", "/v1/imports"): "takes a file, not JSON: its conventions are in tests/portability/",
    ("GET", "/healthz"): "an operations endpoint: no key, no owner (tests/test_openapi.py)",
    ("GET", "/readyz"): "an operations endpoint: no key, no owner (tests/test_openapi.py)",
    ("GET", "/metrics"): "an operations endpoint: no key, no owner (tests/test_openapi.py)",
    ("GET", "/calendar/{token}.ics"): "no key: the secret URL is the credential; its "
    "conventions (404, ETag and 304, rate limit) are in tests/calendar/",
}
DESCRIBED = {e.operation: e for e in TABLE}


def app_operations(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of each operation of the app, in the order it documents them."""
    return [(m.upper(), path) for path, item in app.openapi()["paths"].items() for m in item]


# An app built only to read its routes: nothing here opens the database.
MATRIX_APP = create_app(Settings(database_url="sqlite:///matrix-unused.db"))
APP_OPERATIONS = app_operations(MATRIX_APP)
ENDPOINTS = [DESCRIBED[op] for op in APP_OPERATIONS if op in DESCRIBED]
# Endpoints that name an existing resource, in the path or (POST /v1/ledger) in the body.
# (Not `PUT .../by-ref/...`: another owner's reference is one this owner does not have, and
# a PUT of a reference nobody has creates the contact.)
BY_ID = [
    e
    for e in ENDPOINTS
    if ("{" in e.path and "{external_id}" not in e.path)
    or "{contact}" in str(e.body)
    or "{" in e.query
]
WRITES = [e for e in ENDPOINTS if e.write]
LISTS = [e for e in ENDPOINTS if e.lists]
POSTS = [e for e in ENDPOINTS if e.method == "POST" and e.succeeds]
IF_MATCH = [e for e in ENDPOINTS if e.method in ("PATCH", "DELETE")]
# GETs of one resource, each answered with an ETag and honouring If-None-Match; but not the
# exports, documents streamed as they are read, whose ETag could only come after the last byte.
NOT_CONDITIONAL = {"/v1/export", "/v1/export.vcf"}
SINGLE_GETS = [
    e for e in ENDPOINTS if e.method == "GET" and not e.lists and e.path not in NOT_CONDITIONAL
]


def test_the_matrix_describes_every_operation_of_the_app(app: FastAPI) -> None:
    operations = app_operations(app)
    described = [e.operation for e in TABLE] + list(NOT_IN_THE_MATRIX)
    problems = {
        "the app has operations the matrix does not describe (add each to TABLE or, "
        "saying why, to NOT_IN_THE_MATRIX)": set(operations) - set(described),
        "TABLE or NOT_IN_THE_MATRIX names operations the app no longer has": set(described)
        - set(operations),
        "described more than once": {op for op in described if described.count(op) > 1},
    }
    report = [
        f"{problem}:" + "".join(f"\n  {method} {path}" for method, path in sorted(ops))
        for problem, ops in problems.items()
        if ops
    ]
    assert not report, "\n".join(report)
    # The matrix's parameters were read from an app of its own, made at import.
    assert APP_OPERATIONS == operations


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"] and problem["title"] and problem["detail"]
    return problem


async def snapshot(client, actor: Actor, world: World) -> dict:
    """What a client can see of the owner's data, to prove a refused request changed nothing."""
    contacts = await client.get("/v1/contacts?archived=false", headers=actor.headers)
    archived = await client.get("/v1/contacts?archived=true", headers=actor.headers)
    contact = await client.get(f"/v1/contacts/{world.contact_id}", headers=actor.headers)
    interactions = await client.get(
        f"/v1/contacts/{world.contact_id}/interactions", headers=actor.headers
    )
    keys = await client.get("/v1/api-keys", headers=actor.headers)
    ledger = await client.get("/v1/ledger", headers=actor.headers)
    settings = await client.get("/v1/settings", headers=actor.headers)
    introductions = await client.get("/v1/introductions", headers=actor.headers)
    timeline = await client.get(f"/v1/introductions/{world.intro_id}/events", headers=actor.headers)
    events = await client.get("/v1/events?limit=200", headers=actor.headers)
    webhooks = await client.get("/v1/webhooks", headers=actor.headers)
    reminders = await client.get("/v1/reminders?limit=200", headers=actor.headers)
    relationships = await client.get("/v1/relationships?limit=200", headers=actor.headers)
    feeds = await client.get("/v1/calendar-feeds?limit=200", headers=actor.headers)
    return {
        "calendar_feeds": feeds.json(),
        "relationships": relationships.json(),
        "reminders": reminders.json(),
        "events": events.json(),
        "webhooks": webhooks.json(),
        "introductions": introductions.json(),
        "timeline": timeline.json(),
        "ledger": ledger.json(),
        "settings": settings.json(),
        "contacts": contacts.json(),
        "archived": archived.json(),
        "contact": contact.json(),
        "interactions": interactions.json(),
        "keys": keys.json(),
    }


async def send(client, endpoint: Endpoint, world: World, headers: dict, **kwargs: Any):
    body = kwargs.pop("json", endpoint.payload(world))
    # A call's own query parameters replace the endpoint's.
    url = endpoint.url(world, query="params" not in kwargs)
    return await client.request(endpoint.method, url, json=body, headers=headers, **kwargs)


def row_id(row: dict[str, Any]) -> Any:
    """A listed row's identity: its id, or for a suggestion (a pair) its two contacts."""
    return row["id"] if "id" in row else (row["requester_id"], row["target_id"])


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer gw_not-a-real-key", "Basic dXNlcjpwYXNz", "Bearer "],
    ids=["missing", "unknown-key", "wrong-scheme", "empty"],
)
async def test_requests_without_a_valid_key_are_refused(client, owner, endpoint, authorization):
    world = await build_world(client, owner)
    before = await snapshot(client, owner, world)
    headers = {"Authorization": authorization} if authorization else {}
    response = await send(client, endpoint, world, headers)
    assert_problem(response, 401)
    assert await snapshot(client, owner, world) == before


@pytest.mark.parametrize("endpoint", WRITES, ids=str)
async def test_read_only_key_cannot_write(client, owner, endpoint):
    world = await build_world(client, owner)
    before = await snapshot(client, owner, world)
    response = await send(client, endpoint, world, owner.read_headers)
    assert_problem(response, 403)
    assert await snapshot(client, owner, world) == before


@pytest.mark.parametrize("endpoint", BY_ID, ids=str)
async def test_another_owners_resources_do_not_exist(client, owner, other_owner, endpoint):
    theirs = await build_world(client, other_owner)
    before = await snapshot(client, other_owner, theirs)
    response = await send(client, endpoint, theirs, owner.headers)
    assert_problem(response, 404)
    # Exactly as if it did not exist: the same answer as for an id nobody has.
    nobody = World(
        "ct_00000000000000000000000000",
        "int_00000000000000000000000000",
        "key_00000000000000000000000000",
        "le_00000000000000000000000000",
        "ct_00000000000000000000000001",
        "intro_00000000000000000000000000",
    )
    missing = await send(client, endpoint, nobody, owner.headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == response.json()["type"]
    assert await snapshot(client, other_owner, theirs) == before


@pytest.mark.parametrize("endpoint", LISTS, ids=str)
async def test_lists_never_show_another_owners_rows(client, owner, other_owner, endpoint):
    mine = await build_world(client, owner)
    await build_world(client, other_owner)
    response = await send(client, endpoint, mine, owner.headers)
    assert response.status_code == 200
    ids = {row_id(row) for row in response.json()["data"]}
    theirs = await send(client, endpoint, mine, other_owner.headers)
    if theirs.status_code == 200:  # the other owner cannot even see my contact's timeline
        assert ids.isdisjoint({row_id(row) for row in theirs.json()["data"]})
    else:
        assert_problem(theirs, 404)


INVALID_BODIES: dict[str, tuple[dict[str, Any], set[str]]] = {
    "/v1/api-keys": ({"name": "", "scopes": ["admin"]}, {"name", "scopes[0]"}),
    "/v1/contacts": (
        {"display_name": "", "timezone": "Mars/Olympus", "channels": [{"type": "pigeon"}]},
        {"display_name", "timezone", "channels[0].type", "channels[0].value"},
    ),
    "/v1/contacts/{contact_id}": (
        {"trust_stage": "bestie", "cadence_days": 0},
        {"trust_stage", "cadence_days"},
    ),
    "/v1/contacts/batch": ({"items": "nope"}, {"items"}),
    "/v1/contacts/{contact_id}/restore": ({"force": True}, {"force"}),
    "/v1/contacts/{contact_id}/interactions": (
        {"kind": "telepathy", "occurred_at": "yesterday"},
        {"kind", "occurred_at"},
    ),
    "/v1/contacts/{contact_id}/interactions/{interaction_id}": (
        {"kind": None, "initiated_by": "us"},
        {"kind", "initiated_by"},
    ),
    "/v1/settings": (
        {"reciprocity_ratio": 0, "consent_ttl_days": None},
        {"reciprocity_ratio", "consent_ttl_days"},
    ),
    "/v1/ledger": (
        {"contact_id": "", "direction": "took", "kind": "advice", "weight": 9},
        {"contact_id", "direction", "weight"},
    ),
    "/v1/ledger/{entry_id}/reversal": ({"note": 42}, {"note"}),
    "/v1/introductions": (
        {"requester_id": "", "target_id": 5, "reason": ""},
        {"requester_id", "target_id", "reason"},
    ),
    "/v1/introductions/{introduction_id}": ({"reason": None, "offer": 7}, {"reason", "offer"}),
    "/v1/introductions/{introduction_id}/consent-request": ({"force": True}, {"force"}),
    "/v1/introductions/{introduction_id}/consent": (
        {"decision": "maybe"},
        {"decision", "evidence"},
    ),
    "/v1/introductions/{introduction_id}/make": ({"weight": 9}, {"weight"}),
    "/v1/introductions/{introduction_id}/feedback": (
        {"from": "owner", "outcome": "great"},
        {"from", "outcome"},
    ),
    "/v1/introductions/{introduction_id}/withdraw": ({"reason": 5}, {"reason"}),
    "/v1/webhooks": ({"url": "ftp://hooks.example.com", "events": ["nope"]}, {"url", "events[0]"}),
    "/v1/webhooks/{webhook_id}/rotate-secret": (
        {"previous_secret_valid_seconds": -1},
        {"previous_secret_valid_seconds"},
    ),
    "/v1/webhooks/{webhook_id}/enable": ({"force": True}, {"force"}),
    "/v1/webhooks/{webhook_id}": (
        {"url": "ftp://hooks.example.com", "events": [], "enabled": None},
        {"url", "events", "enabled"},
    ),
    "/v1/webhooks/{webhook_id}/test": ({"force": True}, {"force"}),
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": ({"force": True}, {"force"}),
    "/v1/reminders": (
        {"contact_id": "", "due_at": "tomorrow", "note": 5},
        {"contact_id", "due_at", "note"},
    ),
    "/v1/reminders/{reminder_id}": ({"due_at": None, "note": 5}, {"due_at", "note"}),
    "/v1/reminders/{reminder_id}/done": ({"force": True}, {"force"}),
    "/v1/calendar-feeds": ({"name": " \t "}, {"name"}),
    "/v1/relationships": (
        {"contact_ids": ["ct_x"], "kind": "rival", "strength": 0},
        {"contact_ids", "kind", "strength"},
    ),
    "/v1/relationships/{relationship_id}": (
        {"kind": None, "strength": 6, "note": 5},
        {"kind", "strength", "note"},
    ),
    "/v1/agenda/{item_id}/snooze": ({"until": "tomorrow"}, {"until"}),
    "/v1/agenda/{item_id}/dismiss": ({"force": True}, {"force"}),
}
WITH_BODY = [e for e in ENDPOINTS if e.method in ("POST", "PATCH")]
# A different body under the same Idempotency-Key.
CHANGED_FIELD = {
    "/v1/api-keys": {"name": "Other"},
    "/v1/contacts": {"display_name": "Other"},
    "/v1/contacts/batch": {"items": []},
    "/v1/contacts/{contact_id}/interactions": {"summary": "Other"},
    "/v1/ledger": {"weight": 3},
    "/v1/ledger/{entry_id}/reversal": {"note": "Other"},
    "/v1/introductions": {"reason": "Other"},
    "/v1/introductions/{introduction_id}/consent-request": {},
    "/v1/introductions/{introduction_id}/consent": {"evidence": "Other"},
    "/v1/introductions/{introduction_id}/withdraw": {"reason": "Other"},
    "/v1/webhooks": {"events": ["contact.*"]},
    "/v1/webhooks/{webhook_id}/rotate-secret": {"previous_secret_valid_seconds": 60},
    "/v1/webhooks/{webhook_id}/enable": {},
    "/v1/webhooks/{webhook_id}/test": {},
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {},
    "/v1/reminders": {"note": "Other"},
    "/v1/reminders/{reminder_id}/done": {},
    "/v1/relationships": {"strength": 2},
    "/v1/calendar-feeds": {"name": "Other"},
    "/v1/agenda/{item_id}/snooze": {"until": "2099-01-02T09:00:00Z"},
    "/v1/agenda/{item_id}/dismiss": {},
}


@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
async def test_invalid_fields_are_named_and_change_nothing(client, owner, endpoint):
    world = await build_world(client, owner)
    before = await snapshot(client, owner, world)
    body, fields = INVALID_BODIES[endpoint.path]
    problem = assert_problem(await send(client, endpoint, world, owner.headers, json=body), 422)
    assert {e["field"] for e in problem["errors"]} == fields
    assert all(e["message"] for e in problem["errors"])
    assert await snapshot(client, owner, world) == before


@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
async def test_unknown_fields_are_refused(client, owner, endpoint):
    world = await build_world(client, owner)
    before = await snapshot(client, owner, world)
    body = {**(endpoint.body or {}), "owner_id": "own_someone_else"}
    problem = assert_problem(await send(client, endpoint, world, owner.headers, json=body), 422)
    assert {"field": "owner_id", "message": "unknown field"} in problem["errors"]
    assert await snapshot(client, owner, world) == before


@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
async def test_malformed_json_is_a_problem(client, owner, endpoint):
    world = await build_world(client, owner)
    response = await client.request(
        endpoint.method,
        endpoint.url(world),
        content=b'{"display_name": ',
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 422)


@pytest.mark.parametrize("endpoint", IF_MATCH, ids=str)
async def test_stale_if_match_is_refused(client, owner, endpoint):
    world = await build_world(client, owner)
    before = await snapshot(client, owner, world)
    response = await send(client, endpoint, world, {**owner.headers, "If-Match": '"stale"'})
    assert_problem(response, 412)
    assert await snapshot(client, owner, world) == before


@pytest.mark.parametrize("endpoint", IF_MATCH, ids=str)
async def test_current_if_match_is_accepted(client, owner, endpoint):
    world = await build_world(client, owner)
    read = await client.get(endpoint.url(world), headers=owner.headers)
    etag = read.headers["etag"]
    response = await send(client, endpoint, world, {**owner.headers, "If-Match": etag})
    assert response.status_code in (200, 204), response.text


# Writes that change nothing in the matrix's world (its webhook is enabled already), and so
# write nothing.
UNCHANGING = {("POST", "/v1/webhooks/{webhook_id}/enable")}
CHANGING = [e for e in WRITES if e.succeeds and not e.accepted and e.operation not in UNCHANGING]


@pytest.mark.parametrize("endpoint", CHANGING, ids=str)
async def test_a_write_moves_the_owners_data_version(app, client, owner, endpoint):
    """Answers computed from an owner's data are kept while its version holds
    (app/network/kept.py): every write that succeeds must move it, by an event or by the
    settings' version."""
    world = await build_world(client, owner)
    reader = Reader(app.state.sessionmaker.kw["bind"])
    before = await data_version(reader, owner.owner_id)
    response = await send(client, endpoint, world, owner.headers)
    assert response.status_code in (200, 201, 204), response.text
    assert await data_version(reader, owner.owner_id) != before


@pytest.mark.parametrize("endpoint", POSTS, ids=str)
async def test_idempotent_retry_replays_the_original_answer(client, owner, endpoint):
    world = await build_world(client, owner)
    headers = {**owner.headers, "Idempotency-Key": "retry-1"}
    first = await send(client, endpoint, world, headers)
    assert first.status_code in (200, 201, 202), first.text
    after_first = await snapshot(client, owner, world)
    second = await send(client, endpoint, world, headers)
    assert second.status_code == first.status_code
    assert second.json() == first.json()
    assert second.headers.get("location") == first.headers.get("location")
    assert second.headers["idempotent-replayed"] == "true"
    assert await snapshot(client, owner, world) == after_first
    # The same key with a different body is a client error, and does nothing.
    if not CHANGED_FIELD[endpoint.path]:
        return  # an empty body has no other version
    changed = {**(endpoint.payload(world) or {}), **CHANGED_FIELD[endpoint.path]}
    assert_problem(await send(client, endpoint, world, headers, json=changed), 422)
    assert await snapshot(client, owner, world) == after_first


@pytest.mark.parametrize("endpoint", POSTS, ids=str)
async def test_idempotency_keys_are_scoped_to_the_owner(client, owner, other_owner, endpoint):
    mine = await build_world(client, owner)
    theirs = await build_world(client, other_owner)
    key = {"Idempotency-Key": "shared-key"}
    first = await send(client, endpoint, mine, {**owner.headers, **key})
    second = await send(client, endpoint, theirs, {**other_owner.headers, **key})
    assert first.status_code == second.status_code
    assert first.status_code in (200, 201, 202)
    assert "idempotent-replayed" not in second.headers
    # What each created (a batch: its first item's contact).
    ids = [r.json()["results"][0] if "results" in r.json() else r.json() for r in (first, second)]
    assert ids[0]["id"] != ids[1]["id"]


@pytest.mark.parametrize("endpoint", LISTS, ids=str)
@pytest.mark.parametrize(
    "cursor",
    ["not-base64!!", "e30", "eyJrIjoib3RoZXIiLCJ2IjpbIngiXX0", "A" * 100, "%00", "eyJrIjpb"],
)
async def test_bad_cursors_are_400(client, owner, endpoint, cursor):
    world = await build_world(client, owner)
    response = await client.get(
        endpoint.url(world), params={"cursor": cursor}, headers=owner.headers
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("endpoint", LISTS, ids=str)
@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten"])
async def test_limit_outside_1_to_200_is_422(client, owner, endpoint, limit):
    world = await build_world(client, owner)
    response = await client.get(endpoint.url(world), params={"limit": limit}, headers=owner.headers)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "limit"


async def grow_world(app, client, owner, world) -> None:
    """A few more rows of every list's kind, so that each list has several pages."""
    for _ in range(4):
        await client.post(
            f"/v1/contacts/{world.contact_id}/interactions",
            json=INTERACTION,
            headers=owner.headers,
        )
        # Each needs what the others offer: suggestions between them.
        extra = await client.post(
            "/v1/contacts",
            json=contact_body(external_refs={}, needs=["advice"], offers=["Advice"]),
            headers=owner.headers,
        )
        # Help received, not yet thanked: two items on today's agenda (thanks, rebalance).
        await client.post(
            "/v1/ledger",
            json={**LEDGER_ENTRY, "contact_id": extra.json()["id"], "direction": "received"},
            headers=owner.headers,
        )
        await create_introduction(client, owner, extra.json()["id"], world.target_id)
        await client.patch(  # each edit is a timeline event
            f"/v1/introductions/{world.intro_id}", json={"offer": "More"}, headers=owner.headers
        )
        await client.post("/v1/api-keys", json={"name": "more"}, headers=owner.headers)
        await client.post(
            "/v1/ledger", json=endpoint_body(LEDGER_ENTRY, world), headers=owner.headers
        )
        await client.post("/v1/webhooks", json=WEBHOOK, headers=owner.headers)
        await client.post(
            "/v1/reminders", json=endpoint_body(REMINDER, world), headers=owner.headers
        )
        await client.post(
            "/v1/relationships",
            json={"contact_ids": [world.contact_id, extra.json()["id"]], "kind": "friend"},
            headers=owner.headers,
        )
        await client.post("/v1/calendar-feeds", json=FEED, headers=owner.headers)
    # The world's webhook gets a delivery for each of those events (not sent: no worker).
    async with session_scope(app.state.sessionmaker) as session:
        await fan_out(session)


async def first_cursor(client, actor, endpoint, world) -> str:
    page = await client.get(endpoint.url(world), params={"limit": 1}, headers=actor.headers)
    assert page.status_code == 200, page.text
    cursor = page.json()["next_cursor"]
    assert cursor
    return cursor


def _unsigned(payload: object) -> str:
    """A cursor in the unsigned form this service once issued: base64url JSON."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize("endpoint", LISTS, ids=str)
async def test_an_edited_cursor_is_400(app, client, owner, endpoint):
    world = await build_world(client, owner)
    await grow_world(app, client, owner, world)
    cursor = await first_cursor(client, owner, endpoint, world)
    # Not the last character: base64 leaves some of its bits unused, so changing them
    # changes nothing that is decoded.
    for position in (0, len(cursor) // 3, len(cursor) // 2, len(cursor) - 2):
        flipped = "A" if cursor[position] != "A" else "B"
        edited = cursor[:position] + flipped + cursor[position + 1 :]
        response = await client.get(
            endpoint.url(world), params={"cursor": edited}, headers=owner.headers
        )
        assert_problem(response, 400)


@pytest.mark.parametrize("endpoint", LISTS, ids=str)
async def test_another_owners_cursor_is_400(app, client, owner, other_owner, endpoint):
    mine, theirs = await build_world(client, owner), await build_world(client, other_owner)
    await grow_world(app, client, other_owner, theirs)
    cursor = await first_cursor(client, other_owner, endpoint, theirs)
    response = await client.get(
        endpoint.url(mine), params={"cursor": cursor}, headers=owner.headers
    )
    assert_problem(response, 400)


async def test_a_cursor_from_another_list_is_400(app, client, owner):
    world = await build_world(client, owner)
    await grow_world(app, client, owner, world)
    cursors = {str(e): await first_cursor(client, owner, e, world) for e in LISTS}
    for endpoint in LISTS:
        for issued_by, cursor in cursors.items():
            if issued_by == str(endpoint):
                continue
            response = await client.get(
                endpoint.url(world), params={"cursor": cursor}, headers=owner.headers
            )
            assert_problem(response, 400)


# What an edited cursor of the old unsigned form could carry: each once reached the database.
FORGED = [
    {"k": "event", "v": [2**63]},
    {"k": "event", "v": [2**70]},
    {"k": "contact:goodwill", "v": [2**31, "ct_x"]},
    {"k": "contact:-goodwill", "v": [-(2**40), "ct_x"]},
    {"k": "ledger", "v": ["0001-01-01T00:00:00+14:00", "le_x"]},
    {"k": "ledger", "v": ["9999-12-31T23:59:59-14:00", "le_x"]},
    {"k": "contact:display_name", "v": ["a\x00b", "ct_\x00"]},
    {"k": "api_key", "v": ["\x00"]},
]


@pytest.mark.parametrize("endpoint", LISTS, ids=str)
@pytest.mark.parametrize("payload", FORGED, ids=lambda p: p["k"] + ":" + repr(p["v"])[:20])
async def test_forged_cursors_are_400(client, owner, endpoint, payload):
    world = await build_world(client, owner)
    response = await client.get(
        endpoint.url(world),
        params={"cursor": _unsigned(payload)},
        headers=owner.headers,
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("endpoint", LISTS, ids=str)
async def test_pages_cover_every_row_once(app, client, owner, endpoint):
    world = await build_world(client, owner)
    await grow_world(app, client, owner, world)
    everything = await client.get(endpoint.url(world), params={"limit": 200}, headers=owner.headers)
    expected = [row_id(row) for row in everything.json()["data"]]
    assert len(expected) >= 5
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(endpoint.url(world), params=params, headers=owner.headers)
        assert page.status_code == 200
        seen += [row_id(row) for row in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        # The change feed gives a cursor on its last page too, to poll from.
        if cursor is None or not page.json()["data"]:
            break
    assert seen == expected


# --- The query string: only declared parameters, single-valued ones once -------------------


def query_parameters(endpoint: Endpoint) -> dict[str, dict[str, Any]]:
    """The endpoint's query parameters, by name, with their schemas (the app's document)."""
    operation = MATRIX_APP.openapi()["paths"][endpoint.path][endpoint.method.lower()]
    return {
        p["name"]: p["schema"] for p in operation.get("parameters", []) if p.get("in") == "query"
    }


def takes_many(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "array" or any(takes_many(s) for s in schema.get("anyOf", []))


def some_value(schema: dict[str, Any]) -> str:
    """A value the parameter accepts, as text."""
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("examples"):  # a value no enum lists (`GET /v1/events?type=`)
            example = option["examples"][0]
            return str(example[0] if isinstance(example, list) else example)
        if "$ref" in option:
            option = MATRIX_APP.openapi()["components"]["schemas"][option["$ref"].split("/")[-1]]
        if "items" in option:
            return some_value(option["items"])
        if "enum" in option:
            return str(option["enum"][0])
        if option.get("type") == "boolean":
            return "true"
        if option.get("type") == "integer":
            return str(option.get("minimum", 1))
        if option.get("format") == "date-time":
            return "2026-01-01T00:00:00Z"
    return "x"


WITH_SINGLE_VALUED = [
    e for e in ENDPOINTS if any(not takes_many(s) for s in query_parameters(e).values())
]
WITH_REPEATABLE = [e for e in ENDPOINTS if any(takes_many(s) for s in query_parameters(e).values())]


def test_the_matrix_has_query_parameters_of_both_kinds_to_check() -> None:
    assert len(WITH_SINGLE_VALUED) >= len(LISTS)  # every list takes limit and cursor
    assert "GET /v1/contacts" in {str(e) for e in WITH_REPEATABLE}  # flag and tag


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_unknown_query_parameters_are_400_and_change_nothing(client, owner, endpoint):
    world = await build_world(client, owner)
    before = await snapshot(client, owner, world)
    # A typo beside a parameter the endpoint takes, where it takes one.
    params = {"limt": "10"}
    declared = query_parameters(endpoint)
    if declared:
        name, schema = next(iter(declared.items()))
        params[name] = some_value(schema)
    response = await send(client, endpoint, world, owner.headers, params=params)
    problem = assert_problem(response, 400)
    assert problem["errors"] == [{"field": "limt", "message": "unknown query parameter"}]
    assert "Unknown query parameter: limt." in problem["detail"]
    # The detail says what the endpoint does take, so the typo is easy to fix.
    assert all(name in problem["detail"] for name in declared)
    assert await snapshot(client, owner, world) == before


@pytest.mark.parametrize("endpoint", WITH_SINGLE_VALUED, ids=str)
async def test_a_single_valued_query_parameter_given_twice_is_400(client, owner, endpoint):
    world = await build_world(client, owner)
    before = await snapshot(client, owner, world)
    for name, schema in query_parameters(endpoint).items():
        if takes_many(schema):
            continue
        value = some_value(schema)
        response = await send(client, endpoint, world, owner.headers, params=[(name, value)] * 2)
        problem = assert_problem(response, 400)
        assert problem["errors"] == [{"field": name, "message": "given 2 times; takes one value"}]
        assert f"given more than once: {name};" in problem["detail"]
    assert await snapshot(client, owner, world) == before


@pytest.mark.parametrize("endpoint", WITH_REPEATABLE, ids=str)
async def test_a_repeatable_query_parameter_may_repeat(client, owner, endpoint):
    world = await build_world(client, owner)
    for name, schema in query_parameters(endpoint).items():
        if takes_many(schema):
            response = await send(
                client, endpoint, world, owner.headers, params=[(name, some_value(schema))] * 2
            )
            assert response.status_code == 200, (name, response.text)


# --- ETags and If-None-Match -------------------------------------------------------------


@pytest.mark.parametrize("endpoint", SINGLE_GETS, ids=str)
async def test_if_none_match_naming_the_etag_is_304_without_a_body(client, owner, endpoint):
    world = await build_world(client, owner)
    url = endpoint.url(world)
    first = await client.get(url, headers=owner.headers)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[^"]+"', etag), f"a strong ETag, not {etag}"
    again = await client.get(url, headers=owner.headers)
    assert again.headers["etag"] == etag, "an unchanged resource keeps its ETag"
    # The tag itself, its weak form (If-None-Match compares weakly), any, one in a list.
    for names in (etag, f"W/{etag}", "*", f'"stale", {etag}', f'W/"x,y", {etag}'):
        headers = {**owner.headers, "If-None-Match": names, "X-Request-ID": "conditional-1"}
        unchanged = await client.get(url, headers=headers)
        assert unchanged.status_code == 304, (names, unchanged.text)
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
        assert unchanged.headers["x-request-id"] == "conditional-1"
        assert "content-type" not in unchanged.headers
    for names in ('"stale"', f"{etag[:-1]}x{etag[-1]}", "garbage"):
        other = await client.get(url, headers={**owner.headers, "If-None-Match": names})
        assert other.status_code == 200, names
        assert other.content == first.content


# An answer of one resource, and the URL at which it is read.
ANSWERS_ONE = [
    e
    for e in ENDPOINTS
    if e.method in ("POST", "PATCH")
    and e.succeeds
    and not e.accepted
    # A summary of many rows, one result per item: no resource of its own.
    and e.path not in ("/v1/imports", "/v1/contacts/batch")
    # Agenda items are computed: there is no item to read back.
    and not e.path.startswith("/v1/agenda/")
]
_ACTION = re.compile(r"/(?!\{)[a-z-]+$")


@pytest.mark.parametrize("endpoint", ANSWERS_ONE, ids=str)
async def test_a_write_answers_the_etag_a_read_of_the_resource_gives(client, owner, endpoint):
    world = await build_world(client, owner)
    response = await send(client, endpoint, world, owner.headers)
    assert response.status_code in (200, 201), response.text
    etag = response.headers["etag"]
    # The created resource, or the one written (`POST /v1/introductions/{id}/make`: the
    # introduction), read back.
    url = response.headers.get("location")
    if url is None:
        url = endpoint.url(world)
        url = _ACTION.sub("", url) if endpoint.method == "POST" else url
    read = await client.get(url, headers=owner.headers)
    assert read.status_code == 200, read.text
    assert read.headers["etag"] == etag
    unchanged = await client.get(url, headers={**owner.headers, "If-None-Match": etag})
    assert unchanged.status_code == 304


# --- Bodies: JSON or 415 -----------------------------------------------------------------


@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"],
    ids=["missing", "text", "form", "xml"],
)
async def test_a_body_that_is_not_json_is_415_and_changes_nothing(
    client, owner, endpoint, content_type
):
    world = await build_world(client, owner)
    before = await snapshot(client, owner, world)
    # The endpoint's own valid body, sent as something other than JSON.
    headers = {**owner.headers, **({"Content-Type": content_type} if content_type else {})}
    content = json.dumps(endpoint.payload(world)).encode()
    response = await client.request(
        endpoint.method, endpoint.url(world), content=content, headers=headers
    )
    problem = assert_problem(response, 415)
    assert "JSON" in problem["detail"]
    if endpoint.method == "PATCH":
        assert response.headers["accept-patch"] == "application/json"
    assert await snapshot(client, owner, world) == before


@pytest.mark.parametrize("endpoint", [e for e in WITH_BODY if e.succeeds], ids=str)
@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
async def test_json_bodies_are_taken_under_any_json_media_type(
    client, owner, endpoint, content_type
):
    world = await build_world(client, owner)
    content = json.dumps(endpoint.payload(world)).encode()
    response = await client.request(
        endpoint.method,
        endpoint.url(world),
        content=content,
        headers={**owner.headers, "Content-Type": content_type},
    )
    assert response.status_code in (200, 201, 202), response.text


# --- Methods: 405 with every method of the path --------------------------------------------

PATH_METHODS: dict[str, set[str]] = {}
for _method, _path in APP_OPERATIONS:
    PATH_METHODS.setdefault(_path, set()).add(_method)


# `/v1/contacts/batch` is also `/v1/contacts/{contact_id}` for the id `batch`: a contact's
# methods answer there as for any id no contact has.
SHADOWED = {"/v1/contacts/batch": PATH_METHODS["/v1/contacts/{contact_id}"]}


@pytest.mark.parametrize("path", sorted(PATH_METHODS))
async def test_a_method_the_path_lacks_is_405_with_a_complete_allow(client, owner, path):
    nobody = World("ct_x", "int_x", "key_x", "le_x", "ct_y", "intro_x")
    url = path.format(**nobody.path_ids())
    allowed = PATH_METHODS[path] | SHADOWED.get(path, set())
    for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
        response = await client.request(method, url, headers=owner.headers)
        assert_problem(response, 405)
        assert {m.strip() for m in response.headers["allow"].split(",")} == allowed, method
