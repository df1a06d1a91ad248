"""GET /v1/warm-paths on random small networks, against an oracle written from API.md's
rules (not from app/network): every path returned exists edge by edge among live contacts,
each introducer comes with its best path (no shorter one, and no stronger one of as few hops,
is missing), every introducer who has a path is listed, and the order is the documented
ranking: can ask now, fewer hops, stronger weakest link, more recent touch, id."""

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_actor
from tests.network.graph import archive, person

# Interactions happen at whole hours before this.
BASE = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
N = 7

_world = st.fixed_dictionaries(
    {
        "size": st.integers(3, N),
        "ratio": st.integers(1, 3),
        # (a, b, strength, kind): pairs drawn among the first `size` contacts.
        "edges": st.lists(
            st.tuples(
                st.integers(0, N - 1),
                st.integers(0, N - 1),
                st.integers(1, 5),
                st.sampled_from(["friend", "colleague"]),
            ),
            max_size=14,
        ),
        "archived": st.sets(st.integers(0, N - 1), max_size=2),
        # (contact, direction, weight)
        "entries": st.lists(
            st.tuples(
                st.integers(0, N - 1), st.sampled_from(["gave", "received"]), st.integers(1, 5)
            ),
            max_size=8,
        ),
        # contact -> hours before BASE of their latest interaction
        "touched": st.dictionaries(st.integers(0, N - 1), st.integers(0, 1000), max_size=4),
        "target": st.integers(0, N - 1),
        "ask_weight": st.integers(1, 5),
        "max_hops": st.sampled_from([1, 2]),
    }
)


async def _ok(response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def build(client, actor, world: dict[str, Any]) -> dict[str, Any]:
    headers = actor.headers
    size = world["size"]
    await _ok(
        await client.patch(
            "/v1/settings", json={"reciprocity_ratio": world["ratio"]}, headers=headers
        )
    )
    ids = [await person(client, actor, f"C{n}") for n in range(size)]
    strength: dict[frozenset[str], int] = {}
    seen = set()
    for a, b, value, kind in world["edges"]:
        a, b = a % size, b % size
        pair = frozenset((ids[a], ids[b]))
        if a == b or (pair, kind) in seen:
            continue
        seen.add((pair, kind))
        await _ok(
            await client.post(
                "/v1/relationships",
                json={"contact_ids": [ids[a], ids[b]], "kind": kind, "strength": value},
                headers=headers,
            )
        )
        strength[pair] = max(strength.get(pair, 0), value)
    totals = {cid: [0, 0] for cid in ids}
    for n, direction, weight in world["entries"]:
        cid = ids[n % size]
        await _ok(
            await client.post(
                "/v1/ledger",
                json={
                    "contact_id": cid,
                    "direction": direction,
                    "kind": "advice",
                    "weight": weight,
                },
                headers=headers,
            )
        )
        totals[cid][0 if direction == "gave" else 1] += weight
    touched: dict[str, datetime] = {}
    for n, hours in world["touched"].items():
        cid, at = ids[n % size], BASE - timedelta(hours=hours)
        await _ok(
            await client.post(
                f"/v1/contacts/{cid}/interactions",
                json={"kind": "call", "occurred_at": at.isoformat()},
                headers=headers,
            )
        )
        touched[cid] = max(touched.get(cid, at), at)
    archived = {ids[n % size] for n in world["archived"]}
    for cid in archived:
        await archive(client, actor, cid)
    return {
        "ids": ids,
        "strength": strength,
        "totals": totals,
        "touched": touched,
        "archived": archived,
        "target": ids[world["target"] % size],
    }


def best_paths(made: dict[str, Any], max_hops: int) -> dict[str, tuple[int, int]]:
    """Introducer -> (hops, strength) of their best path: fewest hops, then the strongest
    weakest link; through live contacts only."""
    live = [cid for cid in made["ids"] if cid not in made["archived"]]
    target = made["target"]
    if target in made["archived"]:
        return {}

    def link(a: str, b: str) -> int:
        return made["strength"].get(frozenset((a, b)), 0)

    best: dict[str, tuple[int, int]] = {}
    for introducer in live:
        if introducer == target:
            continue
        if link(introducer, target):
            best[introducer] = (1, link(introducer, target))
        elif max_hops == 2:
            two = [
                min(link(introducer, middle), link(middle, target))
                for middle in live
                if middle not in (introducer, target)
                and link(introducer, middle)
                and link(middle, target)
            ]
            if two:
                best[introducer] = (2, max(two))
    return best


def check(world: dict[str, Any], made: dict[str, Any], paths: list[dict[str, Any]]) -> None:
    ratio, weight = world["ratio"], world["ask_weight"]
    expected = best_paths(made, world["max_hops"])
    assert {p["introducer"]["id"] for p in paths} == set(expected), (paths, expected)
    assert len(paths) == len(expected)
    keys = []
    for p in paths:
        introducer, path = p["introducer"]["id"], p["path"]
        assert path[0] == introducer and path[-1] == made["target"]
        assert p["target"]["id"] == made["target"]
        assert p["hops"] == len(path) - 1
        assert not set(path) & made["archived"]
        links = [made["strength"].get(frozenset(pair), 0) for pair in pairwise(path)]
        assert all(links), f"{path} is not a path: {links}"
        assert p["strength"] == min(links)
        assert (p["hops"], p["strength"]) == expected[introducer]
        deposits, withdrawals = made["totals"][introducer]
        goodwill = deposits - ratio * withdrawals
        assert p["can_ask"] == (goodwill >= ratio * weight)
        assert p["deposits_needed"] == max(0, ratio * weight - goodwill)
        touched = made["touched"].get(introducer)
        if touched is None:
            assert p["last_interaction_at"] is None
        else:
            assert datetime.fromisoformat(p["last_interaction_at"]) == touched
        keys.append(
            (
                not p["can_ask"],
                p["hops"],
                -p["strength"],
                touched is None,
                -(touched.timestamp() if touched else 0),
                introducer,
            )
        )
    assert keys == sorted(keys), "not in the documented order"


async def test_warm_paths_are_real_best_and_in_order(app, client):
    loop = asyncio.get_running_loop()

    def run(coro):  # Hypothesis drives from a worker thread; the database lives on this loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(_world)
    def example(world: dict[str, Any]) -> None:
        actor = run(make_actor(app, "paths"))  # a fresh owner: examples do not mix
        made = run(build(client, actor, world))
        params = {
            "target_id": made["target"],
            "ask_weight": world["ask_weight"],
            "max_hops": world["max_hops"],
            "limit": 100,
        }
        response = run(client.get("/v1/warm-paths", params=params, headers=actor.headers))
        paths = run(_ok(response))["data"]
        check(world, made, paths)

    await asyncio.to_thread(example)
