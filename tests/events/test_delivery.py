"""Webhook delivery end to end: the worker POSTs real requests to a receiver on 127.0.0.1,
and the receiver verifies them with the Standard Webhooks library."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import datetime

import orjson
import pytest
from sqlalchemy import update
from sqlmodel import col
from standardwebhooks import Webhook, WebhookVerificationError

from app.core.unit_of_work import commit
from app.events.delivery import RETRY_MULTIPLIERS
from app.events.models import WebhookSubscription
from app.events.worker import Worker, new_client
from tests.events.receiver import Received, Receiver
from tests.factories import Actor, create_contact

WAIT_SECONDS = 15


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


def make_worker(app, **settings) -> Worker:
    merged = app.state.settings.model_copy(update=settings)
    return Worker(merged, app.state.sessionmaker, new_client(merged), app.state.resolver)


@pytest.fixture
async def worker(app) -> AsyncIterator[Worker]:
    worker = make_worker(app)
    async with worker.client:
        yield worker


async def subscribe(client, actor: Actor, url: str, events: list[str]) -> dict:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": events}, headers=actor.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def feed(client, actor: Actor) -> list[dict]:
    response = await client.get("/v1/events", params={"limit": 200}, headers=actor.headers)
    return response.json()["data"]


async def deliveries(client, actor: Actor, hook: dict, **params) -> list[dict]:
    response = await client.get(
        f"/v1/webhooks/{hook['id']}/deliveries", params=params, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def verify(secret: str, request: Received) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


async def test_events_arrive_signed_and_verifiable(client, owner, receiver, worker):
    hook = await subscribe(client, owner, receiver.url, ["contact.*", "ledger_entry.created"])
    contact = await create_contact(client, owner)
    await client.post(  # interaction.created: not subscribed
        f"/v1/contacts/{contact['id']}/interactions",
        json={"kind": "call", "summary": "Hello"},
        headers=owner.headers,
    )
    await client.post(
        "/v1/ledger",
        json={"contact_id": contact["id"], "direction": "gave", "kind": "advice", "weight": 2},
        headers=owner.headers,
    )
    assert await worker.drain() > 0

    events = {e["id"]: e for e in await feed(client, owner)}
    wanted = [
        e
        for e in events.values()
        if e["type"].startswith("contact.") or e["type"] == "ledger_entry.created"
    ]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {e["id"] for e in wanted}
    for request in receiver.requests:
        assert (request.method, request.path) == ("POST", "/hooks/goodwill?source=test")
        assert request.headers["content-type"] == "application/json"
        # Verified with the library the spec's authors maintain; the body is the feed's event.
        payload = verify(hook["secret"], request)
        assert payload == events[request.headers["webhook-id"]]
        assert request.headers["webhook-signature"].startswith("v1,")
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        with pytest.raises(WebhookVerificationError):
            verify(hook["secret"], Received("POST", "/", request.headers, request.body + b" "))

    logged = await deliveries(client, owner, hook)
    assert {d["event_id"] for d in logged} == {e["id"] for e in wanted}
    for delivery in logged:
        assert delivery["status"] == "delivered"
        assert delivery["next_attempt_at"] is None and delivery["finished_at"]
        [attempt] = delivery["attempts"]
        assert attempt["attempt"] == 1 and attempt["status_code"] == 204
        assert attempt["error"] is None and attempt["next_attempt_at"] is None
        assert attempt["duration_ms"] >= 0
    # Nothing more to do: a second drain sends nothing again.
    sent = len(receiver.requests)
    assert await worker.drain() == 0
    assert len(receiver.requests) == sent


async def test_only_events_after_subscribing_are_delivered(client, owner, receiver, worker):
    await create_contact(client, owner, display_name="Before")
    hook = await subscribe(client, owner, receiver.url, ["*"])
    after = await create_contact(client, owner, display_name="After", external_refs={})
    await worker.drain()
    payloads = [verify(hook["secret"], r) for r in receiver.requests]
    assert [(p["type"], p["resource_id"]) for p in payloads] == [("contact.created", after["id"])]


async def test_each_subscription_gets_its_own_signed_copy(
    client, owner, other_owner, receiver, worker
):
    mine = await subscribe(client, owner, receiver.url, ["contact.created"])
    also_mine = await subscribe(client, owner, receiver.url, ["contact.*"])
    theirs = await subscribe(client, other_owner, receiver.url, ["*"])
    await create_contact(client, owner)
    await worker.drain()
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        verified = 0
        for hook in (mine, also_mine):
            try:
                verify(hook["secret"], request)
                verified += 1
            except WebhookVerificationError:
                pass
        assert verified == 1
        with pytest.raises(WebhookVerificationError):
            verify(theirs["secret"], request)


async def test_a_rotated_secret_signs_alongside_the_old_one(client, owner, receiver, worker):
    hook = await subscribe(client, owner, receiver.url, ["contact.created"])
    rotate = f"/v1/webhooks/{hook['id']}/rotate-secret"
    rotated = (await client.post(rotate, json={}, headers=owner.headers)).json()
    await create_contact(client, owner, external_refs={})
    await worker.drain()
    [during_grace] = receiver.requests
    # Two signatures: a receiver still on the old secret and one already on the new one
    # both accept the delivery.
    assert len(during_grace.headers["webhook-signature"].split(" ")) == 2
    assert verify(hook["secret"], during_grace) == verify(rotated["secret"], during_grace)

    # Rotating with no grace period: only the newest secret signs.
    newest = (
        await client.post(rotate, json={"previous_secret_valid_seconds": 0}, headers=owner.headers)
    ).json()
    await create_contact(client, owner, external_refs={})
    await worker.drain()
    after = receiver.requests[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verify(newest["secret"], after)["type"] == "contact.created"
    for old in (hook["secret"], rotated["secret"]):
        with pytest.raises(WebhookVerificationError):
            verify(old, after)


async def _until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"{what} did not happen within {WAIT_SECONDS} s")


async def test_a_failing_receiver_is_retried_with_backoff_then_disabled(
    app, client, owner, receiver
):
    base = 0.05
    worker = make_worker(app, webhook_max_attempts=4, webhook_retry_base_seconds=base)
    receiver.status = 503
    hook = await subscribe(client, owner, receiver.url, ["contact.created"])
    await create_contact(client, owner)

    async with worker.client:

        async def given_up() -> bool:
            await worker.run_once()
            return (await deliveries(client, owner, hook))[0]["status"] == "failed"

        await _until(given_up, "giving up on the delivery")

    [delivery] = await deliveries(client, owner, hook)
    attempts = delivery["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert [a["status_code"] for a in attempts] == [503] * 4
    assert all(a["error"] == "HTTP 503 Test" for a in attempts)
    assert len(receiver.requests) == 4
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1  # the same message
    # Each retry was scheduled after an exponentially growing wait (+/-20% jitter), and
    # not attempted before it.
    for n, (failed, retry) in enumerate(itertools.pairwise(attempts), start=1):
        scheduled = datetime.fromisoformat(failed["next_attempt_at"])
        wait = (scheduled - datetime.fromisoformat(failed["attempted_at"])).total_seconds()
        nominal = base * RETRY_MULTIPLIERS[n - 1]
        assert 0.79 * nominal <= wait <= 1.21 * nominal + 0.05, (n, wait)
        assert datetime.fromisoformat(retry["attempted_at"]) >= scheduled
    assert attempts[-1]["next_attempt_at"] is None

    read = (await client.get(f"/v1/webhooks/{hook['id']}", headers=owner.headers)).json()
    assert read["status"] == "disabled"
    assert "All 4 attempts" in read["disabled_reason"] and "HTTP 503" in read["disabled_reason"]
    assert read["disabled_at"]

    # Disabled: new events are not sent...
    receiver.status = 204
    await create_contact(client, owner, external_refs={})
    again = make_worker(app)
    async with again.client:
        await again.drain()
        assert len(receiver.requests) == 4
        # ...until the owner enables it again; then what happened meanwhile arrives.
        enabled = await client.post(f"/v1/webhooks/{hook['id']}/enable", headers=owner.headers)
        assert enabled.json()["status"] == "active" and enabled.json()["disabled_reason"] is None
        await again.drain()
    assert len(receiver.requests) == 5
    assert verify(hook["secret"], receiver.requests[-1])["type"] == "contact.created"


async def test_one_message_failing_for_good_does_not_disable_a_working_receiver(
    app, client, owner, receiver
):
    """Disabling is for receivers that are down, not for one message a receiver rejects
    while it accepts others."""
    worker = make_worker(app, webhook_max_attempts=3, webhook_retry_base_seconds=0.05)
    receiver.answer = lambda request: 400 if b"Rejected" in request.body else 204
    hook = await subscribe(client, owner, receiver.url, ["contact.created"])
    await create_contact(client, owner, display_name="Rejected")
    async with worker.client:
        await worker.run_once()  # the first attempt fails
        await create_contact(client, owner, display_name="Accepted", external_refs={})

        async def settled() -> bool:
            await worker.run_once()
            return not await deliveries(client, owner, hook, status="pending")

        await _until(settled, "both deliveries settling")
    by_status = {d["status"]: d for d in await deliveries(client, owner, hook)}
    assert set(by_status) == {"delivered", "failed"}
    assert [a["status_code"] for a in by_status["failed"]["attempts"]] == [400, 400, 400]
    read = (await client.get(f"/v1/webhooks/{hook['id']}", headers=owner.headers)).json()
    assert read["status"] == "active"


async def test_410_gone_disables_at_once(client, owner, receiver, worker):
    receiver.status = 410
    hook = await subscribe(client, owner, receiver.url, ["*"])
    await create_contact(client, owner)
    await worker.drain()
    assert len(receiver.requests) == 1
    read = (await client.get(f"/v1/webhooks/{hook['id']}", headers=owner.headers)).json()
    assert read["status"] == "disabled" and "410" in read["disabled_reason"]


async def test_redirects_are_not_followed(client, owner, receiver, worker):
    receiver.status = 307
    hook = await subscribe(client, owner, receiver.url, ["*"])
    await create_contact(client, owner)
    await worker.drain()
    [delivery] = await deliveries(client, owner, hook)
    assert delivery["status"] == "pending"
    assert delivery["attempts"][0]["status_code"] == 307
    assert len(receiver.requests) == 1


async def test_an_address_that_became_private_is_not_contacted(app, client, owner, receiver):
    """DNS can change after subscribing (rebinding): the address is checked again before
    every attempt, and the attempt connects to the address that was checked."""
    resolver = app.state.resolver
    resolver.hosts["rebind.example.com"] = ["93.184.215.14"]
    hook = await subscribe(client, owner, f"http://rebind.example.com:{receiver.port}/hooks", ["*"])
    resolver.hosts["rebind.example.com"] = ["127.0.0.1"]
    strict = make_worker(app, webhook_allow_private=False)
    try:
        await create_contact(client, owner)
        async with strict.client:
            await strict.drain()
    finally:
        del resolver.hosts["rebind.example.com"]
    [delivery] = await deliveries(client, owner, hook)
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None
    assert "refused" in attempt["error"] and "loopback" in attempt["error"]
    assert receiver.requests == []


@pytest.mark.parametrize("host", ["a..b", "xn--zz.example.com"])
async def test_a_stored_host_that_cannot_be_looked_up_is_a_refused_attempt(
    app, client, owner, receiver, worker, host
):
    """Subscriptions made before hosts were checked may hold one: the attempt is refused
    and the pass goes on (getaddrinfo raised UnicodeError on the first, httpx IDNAError)."""
    hook = await subscribe(client, owner, receiver.url, ["*"])
    async with app.state.sessionmaker() as session:
        await session.exec(
            update(WebhookSubscription)
            .where(col(WebhookSubscription.id) == hook["id"])
            .values(url=f"http://{host}:{receiver.port}/hooks")
        )
        await commit(session)
    app.state.resolver.hosts[host] = ["127.0.0.1"]
    try:
        await create_contact(client, owner)
        await worker.drain()
    finally:
        del app.state.resolver.hosts[host]
    [delivery] = await deliveries(client, owner, hook)
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None
    assert "refused" in attempt["error"] and "host" in attempt["error"]
    assert receiver.requests == []


async def test_the_pinned_address_keeps_the_host_header(app, client, owner, receiver, worker):
    app.state.resolver.hosts["receiver.example.com"] = ["127.0.0.1"]
    try:
        hook = await subscribe(
            client, owner, f"http://receiver.example.com:{receiver.port}/in", ["*"]
        )
        await create_contact(client, owner)
        await worker.drain()
    finally:
        del app.state.resolver.hosts["receiver.example.com"]
    [request] = receiver.requests
    assert request.headers["host"] == f"receiver.example.com:{receiver.port}"
    assert verify(hook["secret"], request)["type"] == "contact.created"


async def test_an_unreachable_receiver_is_an_error_attempt(client, owner, worker):
    hook = await subscribe(client, owner, "http://127.0.0.1:9/closed", ["*"])
    await create_contact(client, owner)
    await worker.drain()
    [delivery] = await deliveries(client, owner, hook)
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None and "ConnectError" in attempt["error"]
    assert delivery["status"] == "pending" and delivery["next_attempt_at"]


async def test_deleting_a_subscription_drops_its_deliveries(client, owner, receiver, worker):
    receiver.status = 500
    hook = await subscribe(client, owner, receiver.url, ["*"])
    await create_contact(client, owner)
    await worker.drain()
    assert len(receiver.requests) == 1
    await client.delete(f"/v1/webhooks/{hook['id']}", headers=owner.headers)
    await worker.drain()
    assert len(receiver.requests) == 1
    gone = await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=owner.headers)
    assert gone.status_code == 404


async def test_erased_personal_data_is_not_sent_later(client, owner, receiver, worker):
    hook = await subscribe(client, owner, receiver.url, ["contact.created"])
    contact = await create_contact(client, owner)
    erased = await client.delete(
        f"/v1/contacts/{contact['id']}", params={"erase": "true"}, headers=owner.headers
    )
    assert erased.status_code == 204
    await worker.drain()
    [request] = receiver.requests
    payload = verify(hook["secret"], request)
    assert payload["resource_id"] == contact["id"] and payload["data"] == {"erased": True}
    assert b"Lovelace" not in request.body


async def test_the_body_is_the_event_as_json(client, owner, receiver, worker):
    hook = await subscribe(client, owner, receiver.url, ["contact.created"])
    contact = await create_contact(client, owner)
    await worker.drain()
    [request] = receiver.requests
    body = orjson.loads(request.body)
    assert set(body) == {"id", "type", "resource", "resource_id", "occurred_at", "data"}
    assert body["data"]["id"] == contact["id"]
    assert verify(hook["secret"], request) == body
