"""Batches of the same records sent at the same time, as two sync jobs of a CRM would: each
upsert of an owner waits for the one before it, so every record ends as one contact and no
batch is refused for having lost a race."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.core.migrations import upgrade
from app.main import create_app
from tests.factories import make_actor


@pytest.fixture(scope="module")
def url(fresh_database_url) -> str:  # type: ignore[no-untyped-def]
    url = fresh_database_url("batch_race")
    upgrade(url)
    return url


@pytest.fixture(scope="module")
async def app(url: str) -> AsyncIterator[FastAPI]:
    """Requests that commit for real (no test transaction around them), so that two are
    truly concurrent on PostgreSQL."""
    app = create_app(Settings(database_url=url, rate_limit="100000/minute"))
    yield app
    await app.state.engine.dispose()


async def test_the_same_batch_sent_four_times_at_once_makes_each_contact_once(app: FastAPI):
    owner = await make_actor(app, "racer")
    items = [
        {
            "display_name": f"Racer {n}",
            "external_refs": {"crm": f"r{n}"},
            "channels": [{"type": "email", "value": f"racer{n}@example.com"}],
        }
        for n in range(50)
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        answers = await asyncio.gather(
            *(
                client.post("/v1/contacts/batch", json={"items": items}, headers=owner.headers)
                for _ in range(4)
            )
        )
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        statuses = sorted(tuple(r["status"] for r in a.json()["results"]) for a in answers)
        # One of them created everything; the others found it all there.
        assert statuses == [("created",) * 50] + [("unchanged",) * 50] * 3
        ids = {tuple(r["id"] for r in a.json()["results"]) for a in answers}
        assert len(ids) == 1
        listed = await client.get("/v1/contacts", params={"limit": 200}, headers=owner.headers)
        names = sorted(c["display_name"] for c in listed.json()["data"])
        assert names == sorted(item["display_name"] for item in items)
