"""The agenda's `give` items: introductions the owner could offer (GET /v1/suggestions),
ranked before routine touches."""

from datetime import UTC, datetime, time, timedelta

from tests.factories import create_introduction
from tests.network.graph import person


async def agenda(client, actor, **params) -> list[dict]:
    response = await client.get("/v1/agenda", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_a_suggestion_is_a_give_item_until_the_introduction_is_asked(client, owner):
    dana = await person(client, owner, "Dana", needs=["seed funding"])
    eli = await person(client, owner, "Eli", offers=["Seed funding"])
    (item,) = await agenda(client, owner, kind="give")
    today = datetime.combine(datetime.now(UTC).date(), time(0), UTC)
    assert item["kind"] == "give"
    assert item["contact"] == {"id": dana, "display_name": "Dana"}
    assert item["subject"] == {"type": "contact", "id": dana}
    assert item["suggested_action"] == "offer_introduction"
    assert item["reason"] == "Dana needs seed funding and Eli offers it: offer to introduce them."
    assert datetime.fromisoformat(item["due_at"]) == today
    # The same item on the next read: its id comes from the requester, target and need.
    assert (await agenda(client, owner, kind="give"))[0]["id"] == item["id"]
    await create_introduction(client, owner, dana, eli)
    assert await agenda(client, owner, kind="give") == []


async def test_each_pair_is_its_own_item_and_a_dismissal_holds_for_it(client, owner):
    dana = await person(client, owner, "Dana", needs=["seed funding"])
    await person(client, owner, "Eli", offers=["seed funding"])
    await person(client, owner, "Fay", offers=["seed funding"])
    items = await agenda(client, owner, kind="give")
    assert len(items) == 2 and len({i["id"] for i in items}) == 2
    assert all(i["subject"]["id"] == dana for i in items)
    dismissed = await client.post(
        f"/v1/agenda/{items[0]['id']}/dismiss", json={}, headers=owner.headers
    )
    assert dismissed.status_code == 200, dismissed.text
    assert [i["id"] for i in await agenda(client, owner, kind="give")] == [items[1]["id"]]


async def test_give_items_come_before_routine_touches_and_page_in_score_order(client, owner):
    long_ago = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    await person(client, owner, "Old Friend", cadence_days=30, connected_at=long_ago)
    trusted = await person(client, owner, "Tia", needs=["advice"], trust_stage="trusted")
    stranger = await person(client, owner, "Sid", needs=["advice"], trust_stage="stranger")
    await person(client, owner, "Lou", offers=["advice"], trust_stage="liked")
    items = await agenda(client, owner)
    kinds = [i["kind"] for i in items]
    assert kinds.index("give") < kinds.index("touch_overdue")
    gives = [i["contact"]["id"] for i in items if i["kind"] == "give"]
    assert gives == [trusted, stranger]
    # One item a page: the same items, in the same order.
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/agenda", params=params, headers=owner.headers)
        seen += [i["id"] for i in response.json()["data"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in items]
