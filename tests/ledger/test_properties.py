"""For any sequence of entries, reversals and ratio changes, what the API says about a
relationship equals a recomputation from the entries it lists."""

import asyncio
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factories import create_contact

# (what, direction, weight or ratio, which earlier entry to reverse)
operation = st.tuples(
    st.sampled_from(["entry"] * 6 + ["reverse"] * 2 + ["ratio"]),
    st.sampled_from(["gave", "received"]),
    st.integers(1, 5),
    st.integers(0, 40),
)
operations = st.lists(operation, max_size=30)


def expected_summary(entries: list[dict], ratio: int, ask_weight: int) -> dict[str, Any]:
    """Recomputed from first principles, independently of app.core.reciprocity."""
    deposits = sum(e["weight"] for e in entries if e["direction"] == "gave")
    withdrawals = sum(e["weight"] for e in entries if e["direction"] == "received")
    goodwill = deposits - ratio * withdrawals
    flags = []
    if withdrawals == 0 and deposits >= ratio:
        flags.append("one_sided")
    if goodwill < 0:
        flags.append("overdrawn")
    return {
        "deposits": deposits,
        "withdrawals": withdrawals,
        "ratio": ratio,
        "goodwill": goodwill,
        "ask_weight": ask_weight,
        "can_ask": goodwill >= ratio * ask_weight,
        "deposits_needed": max(0, ratio * ask_weight - goodwill),
        "flags": flags,
    }


async def test_summary_always_equals_a_recomputation_from_the_entries(client, owner):
    loop = asyncio.get_running_loop()

    def run(coro):
        # Hypothesis drives from a worker thread; requests run on the test's own loop,
        # where the test database connection lives.
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    async def all_entries(contact_id: str) -> list[dict]:
        entries, cursor = [], None
        while True:
            params = {
                "contact_id": contact_id,
                "limit": 7,
                **({"cursor": cursor} if cursor else {}),
            }
            page = (await client.get("/v1/ledger", params=params, headers=owner.headers)).json()
            entries += page["data"]
            cursor = page["next_cursor"]
            if cursor is None:
                return entries

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(operations, st.integers(1, 5))
    @example(
        [("entry", "gave", 5, 0)] * 9 + [("entry", "received", 1, 0), ("reverse", "", 0, 3)], 2
    )
    @example([("ratio", "", 2, 0), ("entry", "gave", 1, 0), ("reverse", "", 0, 0)], 1)
    def check(ops, ask_weight):
        contact = run(create_contact(client, owner, external_refs={}))
        acknowledged: list[dict] = []  # what the client was told succeeded
        reversed_ids: set[str] = set()
        current_ratio = None
        for what, direction, number, which in ops:
            if what == "entry":
                body = {
                    "contact_id": contact["id"],
                    "direction": direction,
                    "kind": "favor",
                    "weight": number,
                }
                response = run(client.post("/v1/ledger", json=body, headers=owner.headers))
                assert response.status_code == 201, response.text
                acknowledged.append(response.json())
            elif what == "reverse" and acknowledged:
                target = acknowledged[which % len(acknowledged)]
                response = run(
                    client.post(
                        f"/v1/ledger/{target['id']}/reversal", json={}, headers=owner.headers
                    )
                )
                refusable = target["reverses_id"] is not None or target["id"] in reversed_ids
                if refusable:
                    assert response.status_code == 409, response.text
                else:
                    assert response.status_code == 201, response.text
                    reversed_ids.add(target["id"])
                    acknowledged.append(response.json())
            elif what == "ratio":
                response = run(
                    client.patch(
                        "/v1/settings", json={"reciprocity_ratio": number}, headers=owner.headers
                    )
                )
                assert response.status_code == 200
                current_ratio = number
        ratio_now = (
            current_ratio
            or run(client.get("/v1/settings", headers=owner.headers)).json()["reciprocity_ratio"]
        )
        listed = run(all_entries(contact["id"]))
        assert sorted(e["id"] for e in listed) == sorted(e["id"] for e in acknowledged)
        summary = run(
            client.get(
                f"/v1/contacts/{contact['id']}/reciprocity",
                params={"ask_weight": ask_weight},
                headers=owner.headers,
            )
        )
        assert summary.json() == expected_summary(listed, ratio_now, ask_weight)
        embedded = run(client.get(f"/v1/contacts/{contact['id']}", headers=owner.headers))
        assert embedded.json()["reciprocity"] == expected_summary(listed, ratio_now, 1)

    await asyncio.to_thread(check)
