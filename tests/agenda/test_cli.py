"""`goodwill agenda` against a real database: the list GET /v1/agenda gives, every page,
printed for a script or a cron mail-out."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.agenda.items import RANKS
from app.core.config import Settings
from app.core.migrations import upgrade
from app.main import create_app
from tests.factories import create_contact
from tests.test_cli import run_cli

NOW = datetime.now(UTC)
TODAY = NOW.date()


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


@pytest.fixture(scope="module")
def cli_database(fresh_database_url) -> str:
    url = fresh_database_url("agenda_cli")
    upgrade(url)
    return url


class Owner:
    def __init__(self, email: str, api_key: str) -> None:
        self.email = email
        self.headers = {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
async def setup(cli_database) -> AsyncIterator[tuple[httpx.AsyncClient, Owner]]:
    """An owner made by `goodwill owners create`, and the app on the same database."""
    created = run_cli(cli_database, "owners", "create", "--email", "cron@example.com", "--json")
    assert created.returncode == 0, created.stderr
    owner = Owner("cron@example.com", json.loads(created.stdout)["api_key"])
    app = create_app(Settings(database_url=cli_database, allowed_hosts=["test"]))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, owner
    finally:
        await app.state.engine.dispose()


async def post(client, owner, url, body):
    response = await client.post(url, json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_agenda_prints_the_api_list_grouped_by_kind_or_as_json(setup, cli_database):
    client, owner = setup
    # Touch overdue: a 30-day cadence that ran out ten days ago.
    ada = await create_contact(client, owner, display_name="Ada Lovelace", external_refs={})
    await post(
        client,
        owner,
        f"/v1/contacts/{ada['id']}/interactions",
        {"kind": "call", "occurred_at": ago(40)},
    )
    # Thanks owed: advice received yesterday.
    grace = await create_contact(client, owner, display_name="Grace Hopper", external_refs={})
    await post(
        client,
        owner,
        "/v1/ledger",
        {
            "contact_id": grace["id"],
            "direction": "received",
            "kind": "advice",
            "weight": 2,
            "occurred_at": ago(1),
        },
    )
    # Not due today: a 3-day cadence starting now.
    later = await create_contact(
        client, owner, display_name="Linus Later", cadence_days=3, external_refs={}
    )

    response = await client.get(
        "/v1/agenda", params={"on": TODAY.isoformat()}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    api_items = response.json()["data"]
    kinds = [item["kind"] for item in api_items]
    assert {"touch_overdue", "thanks_owed"} <= set(kinds)

    as_json = run_cli(
        cli_database, "agenda", "--owner-email", owner.email, "--on", TODAY.isoformat(), "--json"
    )
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == api_items

    readable = run_cli(cli_database, "agenda", "--owner-email", "Cron@Example.com")
    assert readable.returncode == 0, readable.stderr
    lines = readable.stdout.splitlines()
    headings = [line for line in lines if line and not line.startswith(" ")]
    # A heading per kind, in the agenda's rank order, with its count.
    ordered = sorted(set(kinds), key=lambda kind: RANKS[kind])
    assert headings == [f"{kind} ({kinds.count(kind)})" for kind in ordered]
    assert headings.index("thanks_owed (1)") < headings.index("touch_overdue (1)")
    # One line an item, under its kind's heading: due date, name, reason.
    for item in api_items:
        line = f"  {item['due_at'][:10]}  {item['contact']['display_name']}: {item['reason']}"
        assert line in lines
        assert lines.index(line) > lines.index(f"{item['kind']} ({kinds.count(item['kind'])})")
    assert "Linus Later" not in readable.stdout

    # On a later day the 3-day cadence is due too.
    on = (TODAY + timedelta(days=4)).isoformat()
    future = run_cli(cli_database, "agenda", "--owner-email", owner.email, "--on", on, "--json")
    assert future.returncode == 0, future.stderr
    touches = [item for item in json.loads(future.stdout) if item["kind"] == "touch_overdue"]
    assert {item["contact"]["id"] for item in touches} == {ada["id"], later["id"]}


def test_agenda_refuses_an_unknown_owner_or_a_bad_day(cli_database):
    unknown = run_cli(cli_database, "agenda", "--owner-email", "nobody@example.com")
    assert unknown.returncode == 1
    assert "No owner" in unknown.stderr and unknown.stdout == ""

    for bad in ("2026-13-01", "tomorrow", "0999-01-01"):
        result = run_cli(cli_database, "agenda", "--owner-email", "x@example.com", "--on", bad)
        assert result.returncode == 2, (bad, result.stderr)
        assert "--on" in result.stderr and result.stdout == ""
