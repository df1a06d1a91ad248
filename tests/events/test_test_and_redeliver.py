"""`POST /v1/webhooks/{id}/test` and `.../deliveries/{delivery_id}/redeliver`: each schedules a
delivery the worker sends like any other (signed, retried, every attempt logged), received
by a real receiver on 127.0.0.1 and verified with the Standard Webhooks library."""

from collections.abc import AsyncIterator

import pytest
from standardwebhooks import WebhookVerificationError

from app.events.worker import Worker
from tests.events.receiver import Receiver
from tests.events.test_delivery import _until, deliveries, feed, make_worker, subscribe, verify
from tests.factories import Actor, create_contact


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


@pytest.fixture
async def worker(app) -> AsyncIterator[Worker]:
    worker = make_worker(app)
    async with worker.client:
        yield worker


async def send_test(client, actor: Actor, hook: dict, **kwargs):
    return await client.post(f"/v1/webhooks/{hook['id']}/test", headers=actor.headers, **kwargs)


async def redeliver(client, actor: Actor, hook: dict, delivery_id: str):
    return await client.post(
        f"/v1/webhooks/{hook['id']}/deliveries/{delivery_id}/redeliver", headers=actor.headers
    )


def assert_pending(delivery: dict) -> None:
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == [] and delivery["finished_at"] is None
    assert delivery["next_attempt_at"] is not None


async def test_a_test_event_arrives_signed_to_that_webhook_alone(client, owner, receiver, worker):
    # Subscribed to nothing the test event is: it is sent whatever the subscription's types.
    hook = await subscribe(client, owner, receiver.url, ["ledger_entry.created"])
    bystander = await subscribe(client, owner, receiver.url, ["*"])
    response = await send_test(client, owner, hook, json={})
    assert response.status_code == 202, response.text
    delivery = response.json()
    assert delivery["event_type"] == "webhook.test"
    assert_pending(delivery)
    assert await deliveries(client, owner, hook) == [delivery]

    assert await worker.drain() > 0
    [request] = receiver.requests
    payload = verify(hook["secret"], request)
    assert request.headers["webhook-id"] == delivery["event_id"] == payload["id"]
    assert payload["type"] == "webhook.test"
    assert (payload["resource"], payload["resource_id"]) == ("webhook", hook["id"])
    assert payload["occurred_at"] and payload["data"]["webhook_id"] == hook["id"]
    with pytest.raises(WebhookVerificationError):
        verify(bystander["secret"], request)

    [sent] = await deliveries(client, owner, hook)
    assert sent["id"] == delivery["id"] and sent["status"] == "delivered"
    assert [a["status_code"] for a in sent["attempts"]] == [204]
    assert await deliveries(client, owner, bystander) == []
    # Not a change to the owner's data: the feed never holds it.
    assert all(e["type"] != "webhook.test" for e in await feed(client, owner))
    assert delivery["event_id"] not in {e["id"] for e in await feed(client, owner)}


async def test_a_test_event_is_retried_like_any_delivery(app, client, owner, receiver):
    answers = iter([503, 500])
    receiver.answer = lambda request: next(answers, 204)
    hook = await subscribe(client, owner, receiver.url, ["contact.*"])
    await send_test(client, owner, hook)
    worker = make_worker(app, webhook_retry_base_seconds=0.02)
    async with worker.client:

        async def delivered() -> bool:
            await worker.run_once()
            return (await deliveries(client, owner, hook))[0]["status"] == "delivered"

        await _until(delivered, "the test event being delivered")
    [delivery] = await deliveries(client, owner, hook)
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 500, 204]
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    bodies = {verify(hook["secret"], r)["occurred_at"] for r in receiver.requests}
    assert len(bodies) == 1  # the same event each time


async def test_a_disabled_webhook_refuses_a_test_with_409(client, owner, receiver):
    hook = await subscribe(client, owner, receiver.url, ["*"])
    await client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False}, headers=owner.headers)
    response = await send_test(client, owner, hook)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("webhook-disabled")
    assert await deliveries(client, owner, hook) == []


async def test_testing_another_owners_webhook_is_404(client, owner, other_owner, receiver):
    theirs = await subscribe(client, other_owner, receiver.url, ["*"])
    response = await send_test(client, owner, theirs)
    assert response.status_code == 404, response.text
    assert await deliveries(client, other_owner, theirs) == []


async def test_redelivery_sends_the_same_event_as_a_new_delivery(client, owner, receiver, worker):
    hook = await subscribe(client, owner, receiver.url, ["contact.created"])
    contact = await create_contact(client, owner)
    await worker.drain()
    [first] = await deliveries(client, owner, hook)
    assert first["status"] == "delivered"

    response = await redeliver(client, owner, hook, first["id"])
    assert response.status_code == 202, response.text
    again = response.json()
    assert again["id"] != first["id"]
    assert (again["event_id"], again["event_type"]) == (first["event_id"], "contact.created")
    assert_pending(again)
    await worker.drain()

    original, repeated = receiver.requests
    assert repeated.headers["webhook-id"] == original.headers["webhook-id"] == first["event_id"]
    assert verify(hook["secret"], repeated) == verify(hook["secret"], original)
    assert verify(hook["secret"], repeated)["resource_id"] == contact["id"]
    # Two deliveries, each with its own attempts: the first one's history is as it was.
    listed = {d["id"]: d for d in await deliveries(client, owner, hook)}
    assert listed[first["id"]] == first
    assert listed[again["id"]]["status"] == "delivered"
    assert len(listed[again["id"]]["attempts"]) == 1


async def test_a_failed_delivery_can_be_sent_again_once_the_receiver_is_back(
    app, client, owner, receiver
):
    receiver.status = 500
    hook = await subscribe(client, owner, receiver.url, ["contact.created"])
    await create_contact(client, owner)
    worker = make_worker(app, webhook_max_attempts=1)
    async with worker.client:
        await worker.drain()
        [failed] = await deliveries(client, owner, hook)
        assert failed["status"] == "failed"
        # The lone failure disabled the webhook (nothing ever reached it): enable, resend.
        await client.post(f"/v1/webhooks/{hook['id']}/enable", headers=owner.headers)
        receiver.status = 204
        again = (await redeliver(client, owner, hook, failed["id"])).json()
        await worker.drain()
    statuses = {d["id"]: d["status"] for d in await deliveries(client, owner, hook)}
    assert statuses == {failed["id"]: "failed", again["id"]: "delivered"}
    assert [r.headers["webhook-id"] for r in receiver.requests] == [failed["event_id"]] * 2


async def test_a_redelivered_test_event_is_the_same_event(client, owner, receiver, worker):
    hook = await subscribe(client, owner, receiver.url, ["*"])
    test = (await send_test(client, owner, hook)).json()
    await worker.drain()
    again = await redeliver(client, owner, hook, test["id"])
    assert again.status_code == 202, again.text
    assert again.json()["event_type"] == "webhook.test"
    await worker.drain()
    first, second = (verify(hook["secret"], r) for r in receiver.requests)
    assert first == second


async def test_redelivering_what_is_not_this_webhooks_delivery_is_404(
    client, owner, other_owner, receiver
):
    mine = await subscribe(client, owner, receiver.url, ["*"])
    also_mine = await subscribe(client, owner, receiver.url, ["*"])
    theirs = await subscribe(client, other_owner, receiver.url, ["*"])
    my_delivery = (await send_test(client, owner, mine)).json()
    their_delivery = (await send_test(client, other_owner, theirs)).json()
    for hook, delivery_id, problem in [
        (mine, "whd_00000000000000000000000000", "delivery-not-found"),
        (also_mine, my_delivery["id"], "delivery-not-found"),  # another webhook's delivery
        (mine, their_delivery["id"], "delivery-not-found"),  # another owner's delivery
        (theirs, their_delivery["id"], "webhook-not-found"),  # another owner's webhook
    ]:
        response = await redeliver(client, owner, hook, delivery_id)
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith(problem)
    assert [d["id"] for d in await deliveries(client, owner, mine)] == [my_delivery["id"]]
    assert await deliveries(client, owner, also_mine) == []
    assert [d["id"] for d in await deliveries(client, other_owner, theirs)] == [
        their_delivery["id"]
    ]


async def test_a_disabled_webhook_refuses_a_redelivery_with_409(client, owner, receiver):
    hook = await subscribe(client, owner, receiver.url, ["*"])
    delivery = (await send_test(client, owner, hook)).json()
    await client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False}, headers=owner.headers)
    response = await redeliver(client, owner, hook, delivery["id"])
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("webhook-disabled")
    assert [d["id"] for d in await deliveries(client, owner, hook)] == [delivery["id"]]


async def test_a_webhook_disabled_by_the_worker_is_in_the_feed(client, owner, receiver, worker):
    receiver.status = 410
    hook = await subscribe(client, owner, receiver.url, ["contact.created"])
    watcher = await subscribe(client, owner, receiver.url, ["webhook.*"])
    await create_contact(client, owner)
    await worker.drain()
    events = (
        await client.get("/v1/events", params={"type": "webhook.updated"}, headers=owner.headers)
    ).json()["data"]
    [disabled] = [e for e in events if e["resource_id"] == hook["id"]]
    assert disabled["data"]["status"] == "disabled"
    assert "410" in disabled["data"]["disabled_reason"]
    # The owner's other subscriptions to webhook.* hear of it; a webhook is never sent
    # events about itself (its own creation included).
    received = {
        (p["type"], p["resource_id"])
        for r in receiver.requests
        for p in [_verified(r, hook, watcher)]
        if p is not None
    }
    assert ("webhook.updated", hook["id"]) in received
    assert ("webhook.created", watcher["id"]) not in received


def _verified(request, *hooks: dict) -> dict | None:
    for hook in hooks:
        try:
            return verify(hook["secret"], request)
        except WebhookVerificationError:
            continue
    return None
