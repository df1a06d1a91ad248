"""Interactions with one contact logged at the same moment, as a phone and a CRM sync would:
each moves the contact in its own UPDATE without reading it first, so on PostgreSQL the
UPDATEs that waited for another's row lock must compute on the row it left. Whatever order
they commit in, the contact ends with the latest interaction, the due date a cadence after
it, and one version per interaction."""

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.contacts.models import Contact
from app.core.config import Settings
from app.core.migrations import upgrade
from app.main import create_app
from tests.factories import make_actor

AT_ONCE = 24
CADENCE_DAYS = 30


@pytest.fixture(scope="module")
def url(fresh_database_url) -> str:  # type: ignore[no-untyped-def]
    url = fresh_database_url("interaction_race")
    upgrade(url)
    return url


@pytest.fixture(scope="module")
async def app(url: str) -> AsyncIterator[FastAPI]:
    """Requests that commit for real (no test transaction around them), so that they are
    truly concurrent on PostgreSQL."""
    app = create_app(Settings(database_url=url, rate_limit="100000/minute"))
    yield app
    await app.state.engine.dispose()


async def test_interactions_logged_at_once_all_count(app: FastAPI):
    owner = await make_actor(app, "toucher")
    start = datetime(2026, 5, 1, 9, 15, 30, 250000, tzinfo=UTC)
    times = [start + timedelta(hours=n, microseconds=n) for n in range(AT_ONCE)]
    random.Random(20261207).shuffle(times)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        created = await client.post(
            "/v1/contacts",
            json={"display_name": "Grace", "cadence_days": CADENCE_DAYS},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        contact = created.json()
        answers = await asyncio.gather(
            *(
                client.post(
                    f"/v1/contacts/{contact['id']}/interactions",
                    json={"kind": "call", "occurred_at": at.isoformat()},
                    headers=owner.headers,
                )
                for at in times
            )
        )
        assert [a.status_code for a in answers] == [201] * AT_ONCE, [a.text for a in answers]
        after = (await client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers)).json()
    latest = max(times)
    assert datetime.fromisoformat(after["last_interaction_at"]) == latest
    assert datetime.fromisoformat(after["next_touch_due_at"]) == latest + timedelta(
        days=CADENCE_DAYS
    )
    async with app.state.engine.connect() as connection:
        version = await connection.scalar(
            select(Contact.version).where(Contact.id == contact["id"])
        )
    assert version == 1 + AT_ONCE
