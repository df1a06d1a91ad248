"""The worker as it is run: inside `goodwill serve` (the embedded default), and as
`goodwill worker --once`, each delivering to a receiver on 127.0.0.1."""

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from app.core.config import Settings
from app.core.migrations import upgrade
from app.events.worker import runs_in_process
from tests.events.receiver import Receiver
from tests.servers import GOODWILL, create_owner, goodwill_env, serving

WAIT_SECONDS = 20
ENV = {"GOODWILL_WEBHOOK_ALLOW_PRIVATE": "true", "GOODWILL_WEBHOOK_POLL_SECONDS": "0.1"}


@dataclass
class Served:
    url: str
    base: str
    headers: dict[str, str]


def _serve(fresh_database_url, tmp_path: Path, env: dict[str, str]) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    url = fresh_database_url("worker")
    upgrade(url)
    api_key = create_owner(url, "hooks@example.com")["api_key"]
    with serving(url, tmp_path, env={**ENV, **env}) as [server]:
        yield Served(url, server.base, {"Authorization": f"Bearer {api_key}"})


@pytest.fixture
def served_with_worker(fresh_database_url, tmp_path: Path) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    # On the embedded default `goodwill serve` runs the worker unasked; on PostgreSQL only
    # when told to.
    on_postgres = bool(os.environ.get("GOODWILL_TEST_DATABASE_URL"))
    env = {"GOODWILL_WEBHOOK_WORKER_IN_PROCESS": "true"} if on_postgres else {}
    yield from _serve(fresh_database_url, tmp_path, env)


@pytest.fixture
def served_without_worker(fresh_database_url, tmp_path: Path) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    yield from _serve(fresh_database_url, tmp_path, {"GOODWILL_WEBHOOK_WORKER_IN_PROCESS": "false"})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


async def _subscribe_and_write(client: httpx.AsyncClient, base: str, receiver: Receiver) -> dict:
    hook = await client.post(
        f"{base}/v1/webhooks", json={"url": receiver.url, "events": ["contact.created"]}
    )
    assert hook.status_code == 201, hook.text
    contact = await client.post(f"{base}/v1/contacts", json={"display_name": "Ada"})
    assert contact.status_code == 201, contact.text
    return hook.json()


async def test_serve_delivers_webhooks_itself(served_with_worker: Served, receiver: Receiver):
    served = served_with_worker
    async with httpx.AsyncClient(headers=served.headers, timeout=10) as client:
        hook = await _subscribe_and_write(client, served.base, receiver)
        deadline = time.monotonic() + WAIT_SECONDS
        while not receiver.requests:
            assert time.monotonic() < deadline, "goodwill serve delivered nothing"
            await asyncio.sleep(0.05)
    [request] = receiver.requests
    assert (
        Webhook(hook["secret"]).verify(request.body, request.headers)["type"] == "contact.created"
    )


async def test_worker_once_delivers_what_is_due_and_exits(
    served_without_worker: Served, receiver: Receiver
):
    served = served_without_worker
    async with httpx.AsyncClient(headers=served.headers, timeout=10) as client:
        hook = await _subscribe_and_write(client, served.base, receiver)
    await asyncio.sleep(0.5)
    assert receiver.requests == []  # nobody delivers in this server
    # Not subprocess.run: the receiver answers on this very event loop.
    process = await asyncio.create_subprocess_exec(
        GOODWILL, "worker", "--once", env=goodwill_env(served.url, **ENV)
    )
    assert await asyncio.wait_for(process.wait(), WAIT_SECONDS) == 0
    [request] = receiver.requests
    assert (
        Webhook(hook["secret"]).verify(request.body, request.headers)["type"] == "contact.created"
    )


@pytest.mark.parametrize(
    ("url", "setting", "expected"),
    [
        ("sqlite:///./x.db", None, True),
        ("postgresql://u@h/db", None, False),
        ("postgresql://u@h/db", True, True),
        ("sqlite:///./x.db", False, False),
    ],
)
def test_the_worker_runs_in_process_on_sqlite_unless_told_otherwise(url, setting, expected):
    settings = Settings(database_url=url, webhook_worker_in_process=setting)
    assert runs_in_process(settings) is expected
