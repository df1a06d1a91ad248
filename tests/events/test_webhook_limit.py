"""At most 25 webhooks per owner, under any concurrency: two `goodwill serve` processes on
one PostgreSQL database take 40 creations for one owner at once. Counting and then inserting
in each transaction let every creation that counted before the others committed through;
only the database, by the lock on the owner's row, can make them count one after another."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.events.webhooks import MAX_SUBSCRIPTIONS
from tests.servers import Servers, owner_on_servers

pytestmark = pytest.mark.postgres

CREATIONS = 40
REQUEST_TIMEOUT = 30
HOOK = {"url": "http://127.0.0.1:9/hooks", "events": ["*"]}


@pytest.fixture
def two_servers(fresh_database_url, tmp_path: Path) -> Iterator[Servers]:  # type: ignore[no-untyped-def]
    url = fresh_database_url("webhook_limit")  # dropped at the end of the session
    env = {"GOODWILL_WEBHOOK_ALLOW_PRIVATE": "true", "GOODWILL_LOG_LEVEL": "WARNING"}
    with owner_on_servers(url, tmp_path, "limit@example.com", env=env) as servers:
        yield servers


async def test_concurrent_creations_stop_at_the_limit(two_servers: Servers):
    limits = httpx.Limits(max_connections=CREATIONS)
    async with httpx.AsyncClient(
        headers=two_servers.headers, timeout=REQUEST_TIMEOUT, limits=limits
    ) as client:
        responses = await asyncio.gather(
            *(
                client.post(f"{two_servers.bases[n % 2]}/v1/webhooks", json=HOOK)
                for n in range(CREATIONS)
            )
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(201) == MAX_SUBSCRIPTIONS, statuses
        assert statuses.count(409) == CREATIONS - MAX_SUBSCRIPTIONS, statuses
        listed = await client.get(f"{two_servers.bases[0]}/v1/webhooks", params={"limit": 200})
    assert listed.status_code == 200, listed.text
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert {w["id"] for w in listed.json()["data"]} == created
