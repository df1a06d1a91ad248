"""GET /v1/agenda, through the API: each kind appears when its situation is created and
leaves when the real thing is done; snooze, dismiss, stable ids, ranking, owners."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import create_contact, create_introduction, create_pair

NOW = datetime.now(UTC)
TODAY = NOW.date()


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def agenda(client, actor, **params) -> list[dict]:
    response = await client.get("/v1/agenda", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def of_kind(items: list[dict], kind: str) -> list[dict]:
    return [item for item in items if item["kind"] == kind]


async def post(client, actor, url, body=None):
    response = await client.post(url, json=body if body is not None else {}, headers=actor.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def settings(client, actor, **rules):
    response = await client.patch("/v1/settings", json=rules, headers=actor.headers)
    assert response.status_code == 200, response.text


async def overdue_contact(client, actor, name="Ada Lovelace") -> dict:
    """A contact whose 30-day cadence ran out ten days ago."""
    contact = await create_contact(client, actor, display_name=name, external_refs={})
    await post(
        client,
        actor,
        f"/v1/contacts/{contact['id']}/interactions",
        {"kind": "call", "occurred_at": ago(40)},
    )
    return contact


async def test_an_overdue_touch_appears_and_leaves_when_a_touch_is_logged(client, owner):
    contact = await overdue_contact(client, owner)
    [item] = of_kind(await agenda(client, owner), "touch_overdue")
    assert item["contact"] == {"id": contact["id"], "display_name": "Ada Lovelace"}
    assert item["subject"] == {"type": "contact", "id": contact["id"]}
    assert item["suggested_action"] == "log_interaction"
    assert "Ada Lovelace" in item["reason"]
    assert datetime.fromisoformat(item["due_at"]) < NOW
    # The same item on every read.
    assert (await agenda(client, owner)) == (await agenda(client, owner))

    await post(client, owner, f"/v1/contacts/{contact['id']}/interactions", {"kind": "coffee"})
    assert of_kind(await agenda(client, owner), "touch_overdue") == []
    # Due again in 30 days: a new occurrence, a new id.
    [later] = of_kind(await agenda(client, owner, on=day(31)), "touch_overdue")
    assert later["id"] != item["id"]


async def test_a_contact_not_yet_due_appears_on_a_later_day(client, owner):
    contact = await create_contact(client, owner, cadence_days=3, external_refs={})
    assert of_kind(await agenda(client, owner), "touch_overdue") == []
    [item] = of_kind(await agenda(client, owner, on=day(4)), "touch_overdue")
    assert item["contact"]["id"] == contact["id"]


async def test_thanks_owed_and_rebalance_for_help_received(client, owner):
    await settings(client, owner, reciprocity_ratio=1, thanks_window_days=3)
    contact = await create_contact(client, owner, display_name="Grace", external_refs={})
    entry = await post(
        client,
        owner,
        "/v1/ledger",
        {
            "contact_id": contact["id"],
            "direction": "received",
            "kind": "advice",
            "weight": 2,
            "occurred_at": ago(1),
        },
    )
    items = await agenda(client, owner)
    [thanks] = of_kind(items, "thanks_owed")
    assert thanks["subject"] == {"type": "ledger_entry", "id": entry["id"]}
    assert thanks["suggested_action"] == "send_thanks" and "Grace" in thanks["reason"]
    [rebalance] = of_kind(items, "rebalance")
    assert rebalance["subject"] == {"type": "contact", "id": contact["id"]}
    assert rebalance["suggested_action"] == "make_deposit"
    # Past the window, no thanks is owed any more; the balance still is.
    later = await agenda(client, owner, on=day(5))
    assert of_kind(later, "thanks_owed") == [] and len(of_kind(later, "rebalance")) == 1

    # A small gift thanks them, and is not yet enough to rebalance.
    gift = {"contact_id": contact["id"], "direction": "gave", "kind": "share", "weight": 1}
    await post(client, owner, "/v1/ledger", gift)
    items = await agenda(client, owner)
    assert of_kind(items, "thanks_owed") == []
    assert len(of_kind(items, "rebalance")) == 1
    await post(client, owner, "/v1/ledger", gift)
    assert of_kind(await agenda(client, owner), "rebalance") == []


async def test_a_received_entry_before_a_gift_owes_nothing_but_a_later_one_does(client, owner):
    contact = await create_contact(client, owner, external_refs={})
    base = {"contact_id": contact["id"], "kind": "advice", "weight": 1}
    await post(
        client, owner, "/v1/ledger", {**base, "direction": "received", "occurred_at": ago(3)}
    )
    await post(client, owner, "/v1/ledger", {**base, "direction": "gave", "occurred_at": ago(2)})
    assert of_kind(await agenda(client, owner), "thanks_owed") == []
    later = await post(
        client, owner, "/v1/ledger", {**base, "direction": "received", "occurred_at": ago(1)}
    )
    [item] = of_kind(await agenda(client, owner), "thanks_owed")
    assert item["subject"]["id"] == later["id"]


async def test_an_introduction_through_its_items(client, owner):
    await settings(client, owner, consent_ttl_days=1, follow_up_after_days=1)
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    url = f"/v1/introductions/{intro['id']}"
    assert await agenda(client, owner) == []

    await post(client, owner, f"{url}/consent-request")
    [expiring] = await agenda(client, owner)
    assert expiring["kind"] == "consent_expiring"
    assert expiring["subject"] == {"type": "introduction", "id": intro["id"]}
    assert expiring["contact"]["id"] == target["id"]
    assert expiring["suggested_action"] == "reissue_consent"
    assert "Theo Target" in expiring["reason"] and "Rita Requester" in expiring["reason"]

    await post(client, owner, f"{url}/consent", {"decision": "accept", "evidence": "Yes"})
    [ready] = await agenda(client, owner)
    assert ready["kind"] == "ready_to_make" and ready["suggested_action"] == "make_introduction"
    assert ready["contact"]["id"] == requester["id"]

    await post(client, owner, f"{url}/make")
    assert await agenda(client, owner) == []
    # Feedback is due from both sides a day after the introduction.
    due = await agenda(client, owner, on=day(2))
    assert [(i["kind"], i["contact"]["id"]) for i in due] == [
        ("follow_up", requester["id"]),
        ("follow_up", target["id"]),
    ]
    assert all(i["suggested_action"] == "give_feedback" for i in due)
    assert len({i["id"] for i in due}) == 2

    await post(client, owner, f"{url}/feedback", {"from": "target", "outcome": "not_contacted"})
    [left] = await agenda(client, owner, on=day(2))
    assert left["id"] == due[0]["id"] and left["contact"]["id"] == requester["id"]
    await post(client, owner, f"{url}/feedback", {"from": "requester", "outcome": "connected"})
    assert await agenda(client, owner, on=day(2)) == []


async def test_a_reminder_appears_on_its_day_until_done(client, owner):
    contact = await create_contact(client, owner, display_name="Ada", external_refs={})
    due_at = datetime.combine(TODAY + timedelta(days=2), datetime.min.time(), UTC)
    reminder = await post(
        client,
        owner,
        "/v1/reminders",
        {
            "contact_id": contact["id"],
            "due_at": (due_at + timedelta(hours=9)).isoformat(),
            "note": "Call after the launch",
        },
    )
    assert of_kind(await agenda(client, owner, on=day(1)), "reminder") == []
    [item] = of_kind(await agenda(client, owner, on=day(2)), "reminder")
    assert item["subject"] == {"type": "reminder", "id": reminder["id"]}
    assert item["suggested_action"] == "complete_reminder"
    assert "Call after the launch" in item["reason"]
    assert of_kind(await agenda(client, owner, on=day(9)), "reminder") == [item]

    await post(client, owner, f"/v1/reminders/{reminder['id']}/done")
    assert of_kind(await agenda(client, owner, on=day(9)), "reminder") == []


async def test_snooze_hides_until_then_and_dismiss_for_good(client, owner):
    ada = await overdue_contact(client, owner, "Ada")
    grace = await overdue_contact(client, owner, "Grace")
    items = await agenda(client, owner)
    [snoozed] = [i for i in items if i["contact"]["id"] == ada["id"]]
    [dismissed] = [i for i in items if i["contact"]["id"] == grace["id"]]

    until = (NOW + timedelta(days=1)).replace(microsecond=0)
    response = await client.post(
        f"/v1/agenda/{snoozed['id']}/snooze",
        json={"until": until.isoformat()},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == snoozed["id"]
    assert datetime.fromisoformat(response.json()["until"]) == until
    response = await client.post(
        f"/v1/agenda/{dismissed['id']}/dismiss", json={}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": dismissed["id"], "until": None}

    assert await agenda(client, owner) == []
    # The day after the snooze ends, it is back; the dismissed one never is.
    assert [i["id"] for i in await agenda(client, owner, on=day(2))] == [snoozed["id"]]
    assert [i["id"] for i in await agenda(client, owner, on=day(20))] == [snoozed["id"]]

    events = await client.get("/v1/events", headers=owner.headers)
    types = [e["type"] for e in events.json()["data"] if e["resource"] == "agenda_item"]
    assert types == ["agenda_item.snoozed", "agenda_item.dismissed"]

    # A touch logged makes a new occurrence, which the dismissal does not hide.
    await post(
        client,
        owner,
        f"/v1/contacts/{grace['id']}/interactions",
        {"kind": "call", "occurred_at": ago(35)},
    )
    [again] = await agenda(client, owner)
    assert again["contact"]["id"] == grace["id"] and again["id"] != dismissed["id"]


@pytest.mark.parametrize(
    "body",
    [{"until": ago(1)}, {"until": "tomorrow"}, {}, {"until": None}, {"until": ago(-1), "x": 1}],
)
async def test_a_snooze_must_be_until_a_future_moment(client, owner, body):
    await overdue_contact(client, owner)
    [item] = await agenda(client, owner)
    response = await client.post(
        f"/v1/agenda/{item['id']}/snooze", json=body, headers=owner.headers
    )
    assert response.status_code == 422, response.text
    assert [i["id"] for i in await agenda(client, owner)] == [item["id"]]


async def test_another_owners_items_never_appear_and_their_ids_are_404(client, owner, other_owner):
    await overdue_contact(client, owner)
    [item] = await agenda(client, owner)
    assert await agenda(client, other_owner) == []
    for action, body in (("snooze", {"until": ago(-1)}), ("dismiss", {})):
        response = await client.post(
            f"/v1/agenda/{item['id']}/{action}", json=body, headers=other_owner.headers
        )
        assert response.status_code == 404, response.text
        nobody = await client.post(
            f"/v1/agenda/ag_{'0' * 26}/{action}", json=body, headers=owner.headers
        )
        assert nobody.status_code == 404
    assert [i["id"] for i in await agenda(client, owner)] == [item["id"]]


@pytest.mark.parametrize("erase", [False, True])
async def test_archived_and_erased_contacts_never_appear(client, owner, erase):
    await settings(client, owner, consent_ttl_days=1)
    contact = await overdue_contact(client, owner)
    await post(
        client,
        owner,
        "/v1/ledger",
        {"contact_id": contact["id"], "direction": "received", "kind": "advice", "weight": 1},
    )
    other = await create_contact(client, owner, display_name="Theo", external_refs={})
    intro = await create_introduction(client, owner, other["id"], contact["id"])
    await post(client, owner, f"/v1/introductions/{intro['id']}/consent-request")
    kinds = {i["kind"] for i in await agenda(client, owner)}
    assert kinds == {"consent_expiring", "thanks_owed", "rebalance", "touch_overdue"}

    response = await client.delete(
        f"/v1/contacts/{contact['id']}", params={"erase": erase}, headers=owner.headers
    )
    assert response.status_code == 204, response.text
    assert await agenda(client, owner) == []


async def test_items_are_ranked_by_kind_then_due_date(client, owner):
    await settings(client, owner, consent_ttl_days=1)
    late = await overdue_contact(client, owner, "Late")
    older = await create_contact(client, owner, display_name="Older", external_refs={})
    await post(
        client,
        owner,
        f"/v1/contacts/{older['id']}/interactions",
        {"kind": "call", "occurred_at": ago(50)},
    )
    await post(
        client,
        owner,
        "/v1/ledger",
        {"contact_id": late["id"], "direction": "received", "kind": "advice", "weight": 1},
    )
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    await post(client, owner, f"/v1/introductions/{intro['id']}/consent-request")
    ready = await create_introduction(client, owner, target["id"], requester["id"])
    await post(
        client,
        owner,
        f"/v1/introductions/{ready['id']}/consent",
        {"decision": "accept", "evidence": "Yes"},
    )
    await post(
        client,
        owner,
        "/v1/reminders",
        {"contact_id": requester["id"], "due_at": ago(1), "note": "Send the deck"},
    )
    items = await agenda(client, owner)
    assert [i["kind"] for i in items] == [
        "consent_expiring",
        "thanks_owed",
        "ready_to_make",
        "reminder",
        "rebalance",
        "touch_overdue",
        "touch_overdue",
    ]
    assert [i["contact"]["display_name"] for i in items[-2:]] == ["Older", "Late"]

    # Page by page, each item once, in the same order.
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/agenda", params=params, headers=owner.headers)
        assert page.status_code == 200, page.text
        seen += page.json()["data"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == items

    only = await client.get("/v1/agenda?kind=touch_overdue&kind=reminder", headers=owner.headers)
    assert [i["kind"] for i in only.json()["data"]] == [
        "reminder",
        "touch_overdue",
        "touch_overdue",
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"on": "2026-02-30"},
        {"on": "tomorrow"},
        {"on": "20261207"},
        {"on": "9999-12-31"},
        {"kind": "give_up"},
    ],
)
async def test_a_bad_day_or_kind_is_422(client, owner, params):
    response = await client.get("/v1/agenda", params=params, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_day_is_the_owners_in_their_timezone(client, owner):
    # A cadence that runs out a day from now: due "tomorrow" where the owner is, 14 hours
    # ahead of UTC, so the day to ask for is theirs, not the server's.
    zone = "Pacific/Kiritimati"
    await settings(client, owner, timezone=zone)
    await create_contact(client, owner, cadence_days=1, external_refs={})
    tomorrow = datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)
    assert of_kind(await agenda(client, owner), "touch_overdue") == []
    assert len(of_kind(await agenda(client, owner, on=tomorrow.isoformat()), "touch_overdue")) == 1


async def test_a_reason_gives_dates_on_the_owners_calendar(client, owner):
    # A touch that ran out at 20:00 UTC ran out the next morning in Kiritimati (UTC+14):
    # the reason names the day the owner lived it.
    zone = "Pacific/Kiritimati"
    await settings(client, owner, timezone=zone)
    contact = await create_contact(client, owner, cadence_days=30, external_refs={})
    touched = datetime.combine(TODAY - timedelta(days=45), datetime.min.time(), UTC)
    touched += timedelta(hours=20)
    await post(
        client,
        owner,
        f"/v1/contacts/{contact['id']}/interactions",
        {"kind": "call", "occurred_at": touched.isoformat()},
    )
    [item] = of_kind(await agenda(client, owner), "touch_overdue")
    due_at = datetime.fromisoformat(item["due_at"])
    assert due_at == touched + timedelta(days=30)
    owners_day = due_at.astimezone(ZoneInfo(zone)).date()
    assert owners_day != due_at.date()
    assert f"was due on {owners_day.isoformat()}" in item["reason"]
