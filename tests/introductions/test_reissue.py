"""Reissuing a consent link: `POST /consent-request` again while `awaiting_consent`."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.core.unit_of_work import commit
from app.introductions.models import Introduction
from tests.factories import create_contact, create_introduction, create_pair
from tests.introductions.test_consent_page import hidden_csrf
from tests.test_conventions_matrix import ENDPOINTS
from tests.test_openapi_document import assert_headers_declared


async def ask(client, owner, intro_id):
    return await client.post(
        f"/v1/introductions/{intro_id}/consent-request", json={}, headers=owner.headers
    )


async def state_of(client, owner, intro_id):
    return (await client.get(f"/v1/introductions/{intro_id}", headers=owner.headers)).json()


async def _requested_hours_ago(app, intro_id: str, hours: float) -> None:
    """Move the consent link's (re)issue `hours` into the past; its expiry stays."""
    async with app.state.sessionmaker() as session:
        await session.exec(
            update(Introduction)
            .where(Introduction.id == intro_id)
            .values(consent_requested_at=datetime.now(UTC) - timedelta(hours=hours))
        )
        await commit(session)


async def _expiring_in(app, intro_id: str, hours: float) -> None:
    async with app.state.sessionmaker() as session:
        await session.exec(
            update(Introduction)
            .where(Introduction.id == intro_id)
            .values(consent_expires_at=datetime.now(UTC) + timedelta(hours=hours))
        )
        await commit(session)


def _path(answer) -> str:
    assert answer.status_code == 200, answer.text
    return answer.json()["consent_url"].removeprefix("http://test")


async def _feed(client, owner, intro_id: str) -> list[dict]:
    events = await client.get("/v1/events", params={"limit": 200}, headers=owner.headers)
    assert events.status_code == 200, events.text
    return [e for e in events.json()["data"] if e["resource_id"] == intro_id]


async def test_a_reissued_link_replaces_the_old_one_and_restarts_the_expiry(client, owner, app):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    old_path = _path(await ask(client, owner, intro["id"]))
    old_page = await client.get(old_path)
    assert old_page.status_code == 200
    await _requested_hours_ago(app, intro["id"], 25)
    await _expiring_in(app, intro["id"], 2)

    reissued = await ask(client, owner, intro["id"])
    new_path = _path(reissued)
    body = reissued.json()
    assert new_path != old_path and body["state"] == "awaiting_consent"
    now = datetime.now(UTC)
    expires = datetime.fromisoformat(body["consent_expires_at"])
    assert timedelta(days=13, hours=23) < expires - now <= timedelta(days=14)
    assert now - datetime.fromisoformat(body["consent_requested_at"]) < timedelta(minutes=1)
    assert reissued.headers["etag"]

    # The old link is gone: a clear 410 page to open, and its form no longer answers.
    gone = await client.get(old_path)
    assert gone.status_code == 410 and "replaced" in gone.text
    assert "Traceback" not in gone.text
    late = await client.post(
        old_path, data={"decision": "accept", "csrf": hidden_csrf(old_page.text)}
    )
    assert late.status_code == 410 and "replaced" in late.text
    assert (await state_of(client, owner, intro["id"]))["state"] == "awaiting_consent"

    # The new one works.
    page = await client.get(new_path)
    assert page.status_code == 200
    answered = await client.post(
        new_path, data={"decision": "accept", "csrf": hidden_csrf(page.text)}
    )
    assert answered.status_code == 200
    assert (await state_of(client, owner, intro["id"]))["state"] == "consented"
    assert (await client.get(new_path)).status_code == 410  # used, as any link

    timeline = (
        await client.get(f"/v1/introductions/{intro['id']}/events", headers=owner.headers)
    ).json()["data"]
    assert [(e["action"], e["from_state"], e["to_state"]) for e in timeline] == [
        ("request", None, "requested"),
        ("request_consent", "requested", "awaiting_consent"),
        ("reissue_consent", "awaiting_consent", "awaiting_consent"),
        ("accept", "awaiting_consent", "consented"),
    ]
    assert timeline[2]["actor"] == "owner"
    assert datetime.fromisoformat(timeline[2]["data"]["expires_at"]) == expires
    feed = await _feed(client, owner, intro["id"])
    assert [(e["type"], e["data"].get("reissued")) for e in feed] == [
        ("introduction.requested", None),
        ("introduction.consent_requested", False),
        ("introduction.consent_requested", True),
        ("introduction.consented", None),
    ]
    assert feed[2]["data"]["state"] == "awaiting_consent"


async def test_a_link_is_reissued_at_most_once_a_day(client, owner, app):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    first_path = _path(await ask(client, owner, intro["id"]))
    before = await state_of(client, owner, intro["id"])

    too_soon = await ask(client, owner, intro["id"])
    assert too_soon.status_code == 409
    assert too_soon.headers["content-type"] == "application/problem+json"
    problem = too_soon.json()
    assert problem["type"].endswith("consent-reissued-recently")
    issued = datetime.fromisoformat(before["consent_requested_at"])
    assert datetime.fromisoformat(problem["retry_after"]) == issued + timedelta(days=1)
    assert 23 * 3600 < int(too_soon.headers["retry-after"]) <= 24 * 3600
    [endpoint] = [e for e in ENDPOINTS if e.path.endswith("/consent-request")]
    assert_headers_declared(app, endpoint, too_soon)
    # Nothing changed: the same link, the same expiry, no event.
    assert await state_of(client, owner, intro["id"]) == before
    assert (await client.get(first_path)).status_code == 200

    # A day after the last (re)issue, not the first: the reissue restarts the wait.
    await _requested_hours_ago(app, intro["id"], 24.01)
    second_path = _path(await ask(client, owner, intro["id"]))
    await _requested_hours_ago(app, intro["id"], 23)
    again = await ask(client, owner, intro["id"])
    assert again.status_code == 409
    assert 3000 < int(again.headers["retry-after"]) <= 3600
    assert (await client.get(second_path)).status_code == 200
    timeline = (
        await client.get(f"/v1/introductions/{intro['id']}/events", headers=owner.headers)
    ).json()["data"]
    assert [e["action"] for e in timeline].count("reissue_consent") == 1


async def test_only_a_pending_request_is_reissued(client, owner, other_owner, app):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    await ask(client, owner, intro["id"])
    await _requested_hours_ago(app, intro["id"], 48)
    # Another owner cannot reissue it, nor learn it exists.
    assert (await ask(client, other_owner, intro["id"])).status_code == 404

    # A lapsed link is not revived: the introduction expired, and a new one is needed.
    await _expiring_in(app, intro["id"], -1)
    lapsed = await ask(client, owner, intro["id"])
    assert lapsed.status_code == 409 and "`expired`" in lapsed.json()["detail"]

    answered = await create_introduction(client, owner, target["id"], requester["id"])
    await ask(client, owner, answered["id"])
    await client.post(
        f"/v1/introductions/{answered['id']}/consent",
        json={"decision": "accept", "evidence": "Said yes on the phone"},
        headers=owner.headers,
    )
    await _requested_hours_ago(app, answered["id"], 48)
    refused = await ask(client, owner, answered["id"])
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("transition-not-allowed")
    assert (await state_of(client, owner, answered["id"]))["state"] == "consented"


async def test_a_reissue_does_not_count_twice_against_the_cap(client, owner, app):
    target = await create_contact(client, owner, display_name="Busy", external_refs={})
    await client.patch(
        "/v1/settings", json={"max_pending_consents_per_target": 2}, headers=owner.headers
    )
    intros = []
    for n in range(3):
        requester = await create_contact(client, owner, display_name=f"R{n}", external_refs={})
        intros.append(await create_introduction(client, owner, requester["id"], target["id"]))
    first, second, third = (intro["id"] for intro in intros)
    assert (await ask(client, owner, first)).status_code == 200
    await _requested_hours_ago(app, first, 25)
    assert (await ask(client, owner, first)).status_code == 200
    # One pending request so far, reissued or not: a second one fits under the cap of 2.
    assert (await ask(client, owner, second)).status_code == 200
    # At the cap, a pending request can still be reissued: the count does not change.
    await _requested_hours_ago(app, first, 25)
    assert (await ask(client, owner, first)).status_code == 200
    capped = await ask(client, owner, third)
    assert capped.status_code == 409
    assert capped.json()["type"].endswith("too-many-pending-consents")
    assert "2 pending" in capped.json()["detail"]
