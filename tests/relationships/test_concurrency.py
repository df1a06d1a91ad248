"""One relationship a pair and kind, between two server processes on one PostgreSQL database.

Two `goodwill serve` processes share the database, so only the database (the contacts'
row locks a write takes, backed by the unique (owner, a, b, kind)) can keep two racing
requests for the same pair from both creating it: one is created, the other told which
(409 with `existing_id`), whichever order each sent the pair in. Two introductions of the
same two people made at once leave one `introduced` edge, and both are made.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.servers import Servers, owner_on_servers

pytestmark = pytest.mark.postgres

RACES = 12
REQUEST_TIMEOUT = 15
INTRODUCTION = {"reason": "Wants advice.", "benefit_to_target": "A new customer."}


@pytest.fixture(scope="module")
def two_servers(fresh_database_url, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:  # type: ignore[no-untyped-def]
    url = fresh_database_url("relationship_race")
    log_dir = tmp_path_factory.mktemp("relationship-race")
    with owner_on_servers(url, log_dir, "related@example.com") as servers:
        yield servers


@pytest.fixture
async def api(two_servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(headers=two_servers.headers, timeout=REQUEST_TIMEOUT) as client:
        yield client


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def _contact(api: httpx.AsyncClient, base: str, name: str) -> str:
    return _ok(await api.post(f"{base}/v1/contacts", json={"display_name": name}), 201)["id"]


async def test_the_same_pair_raced_from_two_servers_is_created_once(api, two_servers):
    first, second = two_servers.bases
    pairs = [
        (await _contact(api, first, f"A{i}"), await _contact(api, second, f"B{i}"))
        for i in range(RACES)
    ]

    async def race(a: str, b: str) -> list[httpx.Response]:
        return list(
            await asyncio.gather(
                api.post(
                    f"{first}/v1/relationships", json={"contact_ids": [a, b], "kind": "friend"}
                ),
                api.post(
                    f"{second}/v1/relationships", json={"contact_ids": [b, a], "kind": "friend"}
                ),
            )
        )

    raced = await asyncio.gather(*(race(a, b) for a, b in pairs))
    for (a, _), answers in zip(pairs, raced, strict=True):
        assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
        created = next(r.json() for r in answers if r.status_code == 201)
        refused = next(r.json() for r in answers if r.status_code == 409)
        assert refused["type"].endswith("relationship-exists")
        # It waited for the winner's locks, then found its row: it learns which one won.
        assert refused["existing_id"] == created["id"]
        listed = _ok(await api.get(f"{first}/v1/relationships", params={"contact_id": a}))
        assert [r["id"] for r in listed["data"]] == [created["id"]]


async def _consented(api: httpx.AsyncClient, base: str, requester: str, target: str) -> str:
    intro = _ok(
        await api.post(
            f"{base}/v1/introductions",
            json={"requester_id": requester, "target_id": target, **INTRODUCTION},
        ),
        201,
    )
    url = f"{base}/v1/introductions/{intro['id']}"
    _ok(await api.post(f"{url}/consent-request", json={}))
    _ok(await api.post(f"{url}/consent", json={"decision": "accept", "evidence": "Said yes"}))
    return intro["id"]


async def test_two_introductions_of_one_pair_made_at_once_leave_one_edge(api, two_servers):
    first, second = two_servers.bases
    for i in range(RACES // 2):
        rita, theo = [await _contact(api, first, f"{name} {i}") for name in ("Rita", "Theo")]
        one = await _consented(api, first, rita, theo)
        other = await _consented(api, second, theo, rita)
        made = await asyncio.gather(
            api.post(f"{first}/v1/introductions/{one}/make", json={}),
            api.post(f"{second}/v1/introductions/{other}/make", json={}),
        )
        assert [r.status_code for r in made] == [200, 200], [r.text for r in made]
        listed = _ok(await api.get(f"{first}/v1/relationships", params={"contact_id": rita}))
        assert [r["kind"] for r in listed["data"]] == ["introduced"]
