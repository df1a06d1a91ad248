"""The feed and webhooks under real concurrency: two `goodwill serve` processes take writes
for one owner while a poller pages the feed and two `goodwill worker` processes deliver.

Events are numbered when inserted, so without the per-owner lock at commit
(app/events/service.py) two transactions of one owner could commit out of `seq` order and a
poller reading `seq > cursor` would step past the one that committed second. Here the poller
must see exactly what the feed finally holds, in the same order, with nothing missing or
repeated, and every webhook must arrive once.
"""

import asyncio
import random
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from app.core.migrations import upgrade
from tests.events.receiver import Receiver
from tests.servers import GOODWILL, STOP_SECONDS, create_owner, goodwill_env, serving

INTRODUCTIONS = 30  # consented beforehand, made during the race
LEDGER_WRITES = 150  # all on the requester of those introductions
OTHER_WRITES = 60  # half new contacts, half interactions with the requester
CONCURRENCY = 24
PAGE = 5
REQUEST_TIMEOUT = 15
SETTLE_SECONDS = 60
ENV = {
    "GOODWILL_WEBHOOK_ALLOW_PRIVATE": "true",
    "GOODWILL_WEBHOOK_POLL_SECONDS": "0.05",
    "GOODWILL_LOG_LEVEL": "WARNING",
}


@contextmanager
def workers(url: str, log_dir: Path, count: int) -> Iterator[list[subprocess.Popen]]:
    """`count` processes of `goodwill worker`; stopped with SIGTERM, which must end them
    cleanly (exit status 0) within STOP_SECONDS."""
    processes: list[subprocess.Popen] = []
    try:
        for n in range(count):
            with (log_dir / f"worker-{n}.log").open("w") as out:
                processes.append(
                    subprocess.Popen(  # noqa: S603
                        [GOODWILL, "worker"],
                        env=goodwill_env(url, **ENV),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


async def _write(client: httpx.AsyncClient, base: str, gate: asyncio.Semaphore, job: tuple):
    """One acknowledged write; returns the id of the resource its event is about."""
    kind, arg = job
    async with gate:
        if kind == "make":
            response = await client.post(f"{base}/v1/introductions/{arg}/make", json={})
            assert response.status_code == 200, response.text
            return arg
        if kind == "ledger":
            body = {"contact_id": arg, "direction": "gave", "kind": "advice", "weight": 1}
            response = await client.post(f"{base}/v1/ledger", json=body)
        elif kind == "contact":
            response = await client.post(f"{base}/v1/contacts", json={"display_name": arg})
        else:
            response = await client.post(
                f"{base}/v1/contacts/{arg}/interactions", json={"kind": "call", "summary": "Hi"}
            )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _consented_introductions(client: httpx.AsyncClient, base: str) -> tuple[str, list[str]]:
    """A requester and introductions of them to others, each consented, ready to be made."""

    async def post(path: str, body: dict) -> dict:
        response = await client.post(f"{base}{path}", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    requester = (await post("/v1/contacts", {"display_name": "Rita"}))["id"]
    intros = []
    for n in range(INTRODUCTIONS):
        target = (await post("/v1/contacts", {"display_name": f"Target {n}"}))["id"]
        intro = await post(
            "/v1/introductions",
            {
                "requester_id": requester,
                "target_id": target,
                "reason": "Advice",
                "benefit_to_target": "A customer",
            },
        )
        await post(f"/v1/introductions/{intro['id']}/consent-request", {})
        await post(
            f"/v1/introductions/{intro['id']}/consent",
            {"decision": "accept", "evidence": "Said yes"},
        )
        intros.append(intro["id"])
    return requester, intros


async def _poll(client: httpx.AsyncClient, bases: list[str], writing: asyncio.Event) -> list[str]:
    """Small pages, as fast as possible, from both servers in turn, until the writers are
    done and a page comes back empty."""
    seen: list[str] = []
    cursor = None
    deadline = time.monotonic() + SETTLE_SECONDS
    for n in range(1_000_000):
        assert time.monotonic() < deadline, "the poller did not catch up"
        params = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"{bases[n % 2]}/v1/events", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [e["id"] for e in body["data"]]
        cursor = body["next_cursor"]
        if not body["data"]:
            if not writing.is_set():
                return seen
            await asyncio.sleep(0.005)
    return seen


async def _all_events(client: httpx.AsyncClient, base: str) -> list[dict]:
    events: list[dict] = []
    cursor = None
    for _ in range(100):
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(f"{base}/v1/events", params=params)).json()
        if not body["data"]:
            return events
        events += body["data"]
        cursor = body["next_cursor"]
    pytest.fail("the feed never ran dry")


@dataclass
class Stack:
    bases: list[str]
    headers: dict[str, str]
    workers: list[subprocess.Popen]


@pytest.fixture
def stack(fresh_database_url, tmp_path: Path) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    url = fresh_database_url("feed")
    upgrade(url)  # outside the test's event loop: migrations run their own
    api_key = create_owner(url, "feed@example.com")["api_key"]
    with serving(url, tmp_path, count=2, env=ENV) as servers, workers(url, tmp_path, 2) as procs:
        yield Stack([s.base for s in servers], {"Authorization": f"Bearer {api_key}"}, procs)
    assert [p.returncode for p in procs] == [0, 0], "workers must stop cleanly on SIGTERM"


@pytest.mark.postgres
async def test_feed_and_webhooks_under_concurrent_writers(stack: Stack):
    bases, headers = stack.bases, stack.headers
    limits = httpx.Limits(max_connections=CONCURRENCY * 2 + 4)
    async with (
        Receiver() as receiver,
        httpx.AsyncClient(headers=headers, timeout=REQUEST_TIMEOUT, limits=limits) as client,
    ):
        hook = await client.post(
            f"{bases[0]}/v1/webhooks", json={"url": receiver.url, "events": ["*"]}
        )
        assert hook.status_code == 201, hook.text
        # Making an introduction records its event, then moves the requester's balance: it
        # waits there for the row lock while ledger entries on the same contact commit. With
        # events numbered at insert, theirs would then commit after higher numbers.
        requester, intros = await _consented_introductions(client, bases[0])
        jobs = (
            [("make", i) for i in intros]
            + [("ledger", requester)] * LEDGER_WRITES
            + [("contact", f"P{n}") for n in range(OTHER_WRITES // 2)]
            + [("interaction", requester)] * (OTHER_WRITES // 2)
        )
        random.Random(20261122).shuffle(jobs)

        writing = asyncio.Event()
        writing.set()
        poller = asyncio.create_task(_poll(client, bases, writing))
        gate = asyncio.Semaphore(CONCURRENCY)
        acked = await asyncio.gather(
            *(_write(client, bases[n % 2], gate, job) for n, job in enumerate(jobs))
        )
        writing.clear()
        polled = await poller

        events = await _all_events(client, bases[1])
        ids = [e["id"] for e in events]
        # The poller saw every event once, in the feed's order, while writes went on.
        assert polled == ids
        assert len(ids) == len(set(ids))
        # Every acknowledged write is in the feed.
        assert set(acked) <= {e["resource_id"] for e in events}
        made = [e for e in events if e["type"] == "introduction.made"]
        assert len(made) == INTRODUCTIONS

        # Both workers delivered; every event after subscribing arrived exactly once (not
        # the subscription's own webhook.created: a webhook is not told of itself).
        subscribed = next(i for i, e in enumerate(events) if e["type"] == "webhook.created")
        assert events[subscribed]["resource_id"] == hook.json()["id"]
        expected = set(ids[subscribed + 1 :])
        deadline = time.monotonic() + SETTLE_SECONDS
        while {r.headers["webhook-id"] for r in receiver.requests} != expected:
            assert time.monotonic() < deadline, "not every event was delivered"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)  # a duplicate would arrive about now
        delivered = [r.headers["webhook-id"] for r in receiver.requests]
        assert sorted(delivered) == sorted(expected)
        signer = Webhook(hook.json()["secret"])
        by_id = {e["id"]: e for e in events}
        for request in receiver.requests:
            assert (
                signer.verify(request.body, request.headers) == by_id[request.headers["webhook-id"]]
            )
