"""No ledger update is lost when two server processes write to one contact at once.

Two `goodwill serve` processes share one PostgreSQL database, so the only thing keeping
the contact's running totals right is the database (`SET x = x + w` on the contact row, and
the unique constraint on `reverses_id`). The totals the API reports are checked against
sums recomputed from every listed entry and from what the client itself was acknowledged,
never against anything the server computed from its own totals.
"""

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import Servers, owner_on_servers

KINDS = ["introduction", "referral", "advice", "endorsement", "share", "thanks", "favor"]
FIRST_WAVE = 150  # entries written before any reversal
SECOND_WAVE = 50  # entries written while the reversal races run
RACED_REVERSALS = 25  # entries of the first wave that both servers try to reverse at once
CONCURRENCY = 20
REQUEST_TIMEOUT = 15


@pytest.fixture
def two_servers(fresh_database_url, tmp_path: Path) -> Iterator[Servers]:  # type: ignore[no-untyped-def]
    url = fresh_database_url("concurrency")
    with owner_on_servers(url, tmp_path, "racer@example.com") as servers:
        yield servers


async def _record(
    client: httpx.AsyncClient, base: str, gate: asyncio.Semaphore, body: dict
) -> httpx.Response:
    async with gate:
        return await client.post(f"{base}/v1/ledger", json=body)


async def _race_reversal(
    client: httpx.AsyncClient, bases: list[str], gate: asyncio.Semaphore, entry_id: str
) -> list[httpx.Response]:
    """The same entry reversed through both servers at the same moment."""
    async with gate:
        return list(
            await asyncio.gather(
                *(
                    client.post(f"{base}/v1/ledger/{entry_id}/reversal", json={"note": base})
                    for base in bases
                )
            )
        )


async def _list_all(client: httpx.AsyncClient, base: str, contact_id: str) -> list[dict]:
    entries: list[dict] = []
    cursor = None
    for _ in range(100):  # 100 pages of 200 is far more than this test writes
        params = {"contact_id": contact_id, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = await client.get(f"{base}/v1/ledger", params=params)
        assert page.status_code == 200, page.text
        entries.extend(page.json()["data"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return entries
    pytest.fail("the ledger listing never ended")


def _sums(entries: list[dict]) -> tuple[int, int]:
    deposits = sum(e["weight"] for e in entries if e["direction"] == "gave")
    withdrawals = sum(e["weight"] for e in entries if e["direction"] == "received")
    return deposits, withdrawals


def _bodies(rng: random.Random, contact_id: str, count: int) -> list[dict]:
    return [
        {
            "contact_id": contact_id,
            "direction": rng.choice(["gave", "received"]),
            "kind": rng.choice(KINDS),
            "weight": rng.randint(1, 5),
        }
        for _ in range(count)
    ]


@pytest.mark.postgres
async def test_no_update_is_lost_between_two_server_processes(two_servers: Servers):
    bases = two_servers.bases
    rng = random.Random(20261122)
    gate = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(
        headers=two_servers.headers, timeout=REQUEST_TIMEOUT, limits=limits
    ) as client:
        contact = await client.post(f"{bases[0]}/v1/contacts", json={"display_name": "Grace"})
        assert contact.status_code == 201, contact.text
        contact_id = contact.json()["id"]

        # Wave 1: entries only, alternating between the servers.
        first = _bodies(rng, contact_id, FIRST_WAVE)
        answers = await asyncio.gather(
            *(_record(client, bases[i % 2], gate, body) for i, body in enumerate(first))
        )
        assert [a.status_code for a in answers] == [201] * FIRST_WAVE, [
            a.text for a in answers if a.status_code != 201
        ][:3]
        # Wave 2: more entries, racing against pairs of reversals of wave-1 entries.
        second = _bodies(rng, contact_id, SECOND_WAVE)
        to_reverse = rng.sample(range(FIRST_WAVE), RACED_REVERSALS)
        writes = [_record(client, bases[i % 2], gate, body) for i, body in enumerate(second)]
        races = [_race_reversal(client, bases, gate, answers[i].json()["id"]) for i in to_reverse]
        done = await asyncio.gather(*writes, *races)
        answers += done[:SECOND_WAVE]
        race_answers = done[SECOND_WAVE:]

        # What the client was acknowledged, from what it sent.
        acked: dict[str, tuple[str, int]] = {}
        for body, answer in zip(first + second, answers, strict=True):
            assert answer.status_code == 201, answer.text
            read = answer.json()
            assert (read["direction"], read["weight"]) == (body["direction"], body["weight"])
            acked[read["id"]] = (body["direction"], body["weight"])
        winners: dict[str, str] = {}
        for i, pair in zip(to_reverse, race_answers, strict=True):
            statuses = sorted(r.status_code for r in pair)
            assert statuses == [201, 409], [r.text for r in pair]
            loser = next(r for r in pair if r.status_code == 409)
            assert loser.json()["type"].endswith("already-reversed"), loser.text
            winner = next(r for r in pair if r.status_code == 201).json()
            direction, weight = first[i]["direction"], first[i]["weight"]
            assert winner["reverses_id"] == answers[i].json()["id"]
            assert (winner["direction"], winner["weight"]) == (direction, -weight)
            acked[winner["id"]] = (direction, -weight)
            winners[winner["reverses_id"]] = winner["id"]
        acked_deposits = sum(w for d, w in acked.values() if d == "gave")
        acked_withdrawals = sum(w for d, w in acked.values() if d == "received")

        # Every acknowledged entry, and nothing else, is in the ledger, each once.
        listed = await _list_all(client, bases[1], contact_id)
        listed_ids = [e["id"] for e in listed]
        assert len(listed_ids) == len(set(listed_ids)) == FIRST_WAVE + SECOND_WAVE + len(winners)
        assert set(listed_ids) == set(acked)
        assert {e["id"]: e["reversed_by_id"] for e in listed if e["reversed_by_id"]} == winners

        # The running totals equal both independent sums, whichever server answers.
        assert _sums(listed) == (acked_deposits, acked_withdrawals)
        for base in bases:
            balance = await client.get(f"{base}/v1/contacts/{contact_id}/reciprocity")
            assert balance.status_code == 200, balance.text
            totals = balance.json()
            assert (totals["deposits"], totals["withdrawals"]) == (
                acked_deposits,
                acked_withdrawals,
            )
