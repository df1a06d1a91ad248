from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import select

from app.core.outbox import Event
from app.core.unit_of_work import commit
from app.introductions.models import Introduction
from app.introductions.service import expire_due
from tests.factories import create_contact, create_introduction, create_pair, introduction_body


async def post(client, owner, intro_id, action, body=None):
    return await client.post(
        f"/v1/introductions/{intro_id}/{action}", json=body or {}, headers=owner.headers
    )


async def state_of(client, owner, intro_id):
    return (await client.get(f"/v1/introductions/{intro_id}", headers=owner.headers)).json()


async def test_an_introduction_end_to_end(client, owner, app):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    assert intro["state"] == "requested"
    assert intro["consent_url"] is None

    asked = await post(client, owner, intro["id"], "consent-request")
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["state"] == "awaiting_consent"
    assert body["consent_url"].startswith("http://test/consent/")
    expires = datetime.fromisoformat(body["consent_expires_at"])
    assert timedelta(days=13, hours=23) < expires - datetime.now(UTC) <= timedelta(days=14)
    assert (await state_of(client, owner, intro["id"]))["consent_url"] is None  # shown once

    consent = await post(
        client,
        owner,
        intro["id"],
        "consent",
        {"decision": "accept", "evidence": "Phone call, said yes"},
    )
    assert consent.json()["state"] == "consented"
    assert consent.json()["decided_via"] == "owner"
    assert consent.json()["evidence"] == "Phone call, said yes"

    made = await post(client, owner, intro["id"], "make", {"note": "Email sent to both"})
    assert made.json()["state"] == "made" and made.json()["made_at"]
    deposits = (
        await client.get(
            "/v1/ledger", params={"contact_id": requester["id"]}, headers=owner.headers
        )
    ).json()["data"]
    assert [(d["direction"], d["kind"], d["weight"], d["introduction_id"]) for d in deposits] == [
        ("gave", "introduction", 3, intro["id"])
    ]

    first = await post(
        client, owner, intro["id"], "feedback", {"from": "requester", "outcome": "connected"}
    )
    assert first.json()["state"] == "completed"
    assert first.json()["feedback"]["requester"] == "connected"
    second = await post(
        client,
        owner,
        intro["id"],
        "feedback",
        {"from": "target", "outcome": "valuable", "note": "Invested"},
    )
    assert second.json()["state"] == "completed"
    target_deposits = (
        await client.get("/v1/ledger", params={"contact_id": target["id"]}, headers=owner.headers)
    ).json()["data"]
    assert [(d["kind"], d["introduction_id"]) for d in target_deposits] == [
        ("introduction", intro["id"])
    ]
    again = await post(
        client, owner, intro["id"], "feedback", {"from": "target", "outcome": "not_useful"}
    )
    assert again.status_code == 409

    timeline = (
        await client.get(f"/v1/introductions/{intro['id']}/events", headers=owner.headers)
    ).json()["data"]
    assert [(e["action"], e["from_state"], e["to_state"]) for e in timeline] == [
        ("request", None, "requested"),
        ("request_consent", "requested", "awaiting_consent"),
        ("accept", "awaiting_consent", "consented"),
        ("make", "consented", "made"),
        ("feedback", "made", "completed"),
        ("feedback", "completed", "completed"),
    ]
    assert {e["actor"] for e in timeline} == {"owner"}
    async with app.state.sessionmaker() as session:
        types = (
            await session.exec(
                select(Event.type).where(Event.resource_id == intro["id"]).order_by(Event.seq)
            )
        ).all()
    assert types == [
        "introduction.requested",
        "introduction.consent_requested",
        "introduction.consented",
        "introduction.made",
        "introduction.completed",
        "introduction.feedback_received",
        "introduction.feedback_received",
    ]


async def test_make_before_consent_is_refused(client, owner):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    for step in (None, "consent-request"):
        if step:
            await post(client, owner, intro["id"], step)
        refused = await post(client, owner, intro["id"], "make")
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert "consented" in refused.json()["detail"]
    ledger = (await client.get("/v1/ledger", headers=owner.headers)).json()["data"]
    assert ledger == []


async def test_requester_and_target_must_differ(client, owner):
    contact = await create_contact(client, owner)
    response = await client.post(
        "/v1/introductions",
        json=introduction_body(contact["id"], contact["id"]),
        headers=owner.headers,
    )
    assert response.status_code == 409
    assert response.json()["type"].endswith("same-requester-and-target")


async def test_unknown_or_foreign_contacts_are_404(client, owner, other_owner):
    mine, _ = await create_pair(client, owner)
    theirs, _ = await create_pair(client, other_owner)
    response = await client.post(
        "/v1/introductions", json=introduction_body(mine["id"], theirs["id"]), headers=owner.headers
    )
    assert response.status_code == 404


async def test_one_open_introduction_per_pair(client, owner):
    requester, target = await create_pair(client, owner)
    first = await create_introduction(client, owner, requester["id"], target["id"])
    again = await client.post(
        "/v1/introductions",
        json=introduction_body(requester["id"], target["id"]),
        headers=owner.headers,
    )
    assert again.status_code == 409
    assert first["id"] in again.json()["detail"]
    # The other direction is another pair.
    await create_introduction(client, owner, target["id"], requester["id"])
    await post(client, owner, first["id"], "withdraw", {"reason": "Changed plans"})
    await create_introduction(client, owner, requester["id"], target["id"])


async def test_a_decline_starts_a_cooldown(client, owner):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    declined = await post(
        client,
        owner,
        intro["id"],
        "consent",
        {"decision": "decline", "evidence": "Said no thanks by text"},
    )
    assert declined.json()["state"] == "declined" and declined.json()["ended_at"]
    again = await client.post(
        "/v1/introductions",
        json=introduction_body(requester["id"], target["id"]),
        headers=owner.headers,
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("decline-cooldown")
    await client.patch("/v1/settings", json={"decline_cooldown_days": 0}, headers=owner.headers)
    await create_introduction(client, owner, requester["id"], target["id"])


async def test_pending_consent_requests_per_target_are_capped(client, owner):
    target = await create_contact(client, owner, display_name="Busy", external_refs={})
    await client.patch(
        "/v1/settings", json={"max_pending_consents_per_target": 2}, headers=owner.headers
    )
    intros = []
    for n in range(3):
        requester = await create_contact(client, owner, display_name=f"R{n}", external_refs={})
        intros.append(await create_introduction(client, owner, requester["id"], target["id"]))
    assert (await post(client, owner, intros[0]["id"], "consent-request")).status_code == 200
    assert (await post(client, owner, intros[1]["id"], "consent-request")).status_code == 200
    capped = await post(client, owner, intros[2]["id"], "consent-request")
    assert capped.status_code == 409
    assert capped.json()["type"].endswith("too-many-pending-consents")
    assert (await state_of(client, owner, intros[2]["id"]))["state"] == "requested"
    await post(client, owner, intros[0]["id"], "withdraw")
    assert (await post(client, owner, intros[2]["id"], "consent-request")).status_code == 200


async def test_consent_request_needs_a_benefit_to_the_target(client, owner):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(
        client, owner, requester["id"], target["id"], benefit_to_target=None
    )
    refused = await post(client, owner, intro["id"], "consent-request")
    assert refused.status_code == 409
    assert "benefit_to_target" in refused.json()["detail"]
    patched = await client.patch(
        f"/v1/introductions/{intro['id']}",
        json={"benefit_to_target": "A lead for his fund"},
        headers=owner.headers,
    )
    assert patched.status_code == 200
    assert (await post(client, owner, intro["id"], "consent-request")).status_code == 200


async def test_edits_only_while_requested(client, owner):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    url = f"/v1/introductions/{intro['id']}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    edited = await client.patch(
        url, json={"offer": "Coffee on her"}, headers={**owner.headers, "If-Match": etag}
    )
    assert edited.json()["offer"] == "Coffee on her"
    stale = await client.patch(
        url, json={"offer": "x"}, headers={**owner.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert (
        await client.patch(url, json={"reason": None}, headers=owner.headers)
    ).status_code == 422
    await post(client, owner, intro["id"], "consent-request")
    late = await client.patch(url, json={"offer": "Too late"}, headers=owner.headers)
    assert late.status_code == 409
    assert (await state_of(client, owner, intro["id"]))["offer"] == "Coffee on her"


async def test_ended_introductions_never_change(client, owner):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    await post(client, owner, intro["id"], "withdraw", {"reason": "No longer needed"})
    before = await state_of(client, owner, intro["id"])
    for action, body in [
        ("consent-request", {}),
        ("consent", {"decision": "accept", "evidence": "x"}),
        ("make", {}),
        ("withdraw", {}),
        ("feedback", {"from": "target", "outcome": "valuable"}),
    ]:
        response = await post(client, owner, intro["id"], action, body)
        assert response.status_code == 409, action
    assert await state_of(client, owner, intro["id"]) == before


async def _let_consent_lapse(app, intro_id: str) -> None:
    """Move the consent link's expiry a minute into the past."""
    async with app.state.sessionmaker() as session:
        await session.exec(
            update(Introduction)
            .where(Introduction.id == intro_id)
            .values(consent_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await commit(session)


async def _made_days_ago(app, intro_id: str, days: int) -> None:
    """Move the introduction's `made_at` `days` into the past."""
    async with app.state.sessionmaker() as session:
        await session.exec(
            update(Introduction)
            .where(Introduction.id == intro_id)
            .values(made_at=datetime.now(UTC) - timedelta(days=days))
        )
        await commit(session)


async def test_expired_consent_requests_end_when_read(client, owner, app):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    await post(client, owner, intro["id"], "consent-request")
    await _let_consent_lapse(app, intro["id"])
    read = await state_of(client, owner, intro["id"])
    assert read["state"] == "expired" and read["ended_at"]
    timeline = (
        await client.get(f"/v1/introductions/{intro['id']}/events", headers=owner.headers)
    ).json()["data"]
    assert timeline[-1]["actor"] == "system" and timeline[-1]["to_state"] == "expired"
    assert (
        await post(
            client, owner, intro["id"], "consent", {"decision": "accept", "evidence": "late"}
        )
    ).status_code == 409
    # The pair is free again.
    await create_introduction(client, owner, requester["id"], target["id"])


async def test_the_list_expires_overdue_consent_requests_before_answering(client, owner, app):
    requester, target = await create_pair(client, owner)
    other = await create_contact(client, owner, display_name="Olga", external_refs={})
    first = await create_introduction(client, owner, requester["id"], target["id"])
    second = await create_introduction(client, owner, other["id"], target["id"])
    for intro in (first, second):
        await post(client, owner, intro["id"], "consent-request")
    await _let_consent_lapse(app, first["id"])

    async def listed(**params):
        response = await client.get("/v1/introductions", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [(i["id"], i["state"]) for i in response.json()["data"]]

    # A page that would be empty before the expiry (none has expired yet) must still show it.
    assert await listed(state="expired", contact_id=requester["id"]) == [(first["id"], "expired")]
    # A page holding a request that is overdue: it is answered as what it now is.
    assert await listed(state="awaiting_consent") == [(second["id"], "awaiting_consent")]
    await _let_consent_lapse(app, second["id"])
    assert await listed(state="awaiting_consent") == []
    assert await listed() == [(second["id"], "expired"), (first["id"], "expired")]
    timeline = (
        await client.get(f"/v1/introductions/{second['id']}/events", headers=owner.headers)
    ).json()["data"]
    assert [(e["actor"], e["to_state"]) for e in timeline[-1:]] == [("system", "expired")]


async def test_list_filters_and_follow_up(client, owner, app):
    requester, target = await create_pair(client, owner)
    other = await create_contact(client, owner, display_name="Olga", external_refs={})
    made = await create_introduction(client, owner, requester["id"], target["id"])
    await post(client, owner, made["id"], "consent", {"decision": "accept", "evidence": "yes"})
    await post(client, owner, made["id"], "make")
    waiting = await create_introduction(client, owner, other["id"], target["id"])
    await post(client, owner, waiting["id"], "consent-request")
    fresh = await create_introduction(client, owner, requester["id"], other["id"])

    async def ids(**params):
        response = await client.get("/v1/introductions", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["data"]]

    assert await ids() == [fresh["id"], waiting["id"], made["id"]]
    assert await ids(state="awaiting_consent") == [waiting["id"]]
    assert await ids(contact_id=other["id"]) == [fresh["id"], waiting["id"]]
    assert await ids(needs_follow_up="true") == []
    await _made_days_ago(app, made["id"], 15)
    assert await ids(needs_follow_up="true") == [made["id"]]
    assert (await state_of(client, owner, made["id"]))["needs_follow_up"] is True
    await post(
        client, owner, made["id"], "feedback", {"from": "requester", "outcome": "not_contacted"}
    )
    # Completed by the requester's answer, but the target has not answered yet.
    assert await ids(needs_follow_up="true") == [made["id"]]
    await post(client, owner, made["id"], "feedback", {"from": "target", "outcome": "connected"})
    assert await ids(needs_follow_up="true") == []
    assert made["id"] in await ids(needs_follow_up="false")
    assert (
        await client.get("/v1/introductions", params={"state": "limbo"}, headers=owner.headers)
    ).status_code == 422


async def test_erasing_a_contact_removes_their_introductions(client, owner, app):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(
        client, owner, requester["id"], target["id"], reason="Secret merger talks"
    )
    await client.delete(
        f"/v1/contacts/{target['id']}", params={"erase": "true"}, headers=owner.headers
    )
    assert (
        await client.get(f"/v1/introductions/{intro['id']}", headers=owner.headers)
    ).status_code == 404
    async with app.state.sessionmaker() as session:
        events = (await session.exec(select(Event).where(Event.resource_id == intro["id"]))).all()
    assert events and all(e.data == {"erased": True} for e in events)


async def test_the_sweep_expires_links_nobody_reads(client, owner, app):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    await post(client, owner, intro["id"], "consent-request")
    await _let_consent_lapse(app, intro["id"])
    # What the periodic maintenance job runs: every owner at once, no read involved.
    async with app.state.sessionmaker() as session:
        assert await expire_due(session) >= 1
        await commit(session)
    async with app.state.sessionmaker() as session:
        row = (await session.exec(select(Introduction).where(Introduction.id == intro["id"]))).one()
        types = (
            await session.exec(select(Event.type).where(Event.resource_id == intro["id"]))
        ).all()
    assert row.state == "expired" and row.ended_at is not None
    assert "introduction.expired" in types


async def test_the_etag_changes_when_a_follow_up_falls_due(client, owner, app):
    """`needs_follow_up` turns true with time alone, not with a new version: the ETag
    changes with it, so a client's copy is not answered 304 once it is out of date."""
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    await post(client, owner, intro["id"], "consent", {"decision": "accept", "evidence": "yes"})
    made = await post(client, owner, intro["id"], "make")
    url = f"/v1/introductions/{intro['id']}"
    etag = made.headers["etag"]
    conditional = {**owner.headers, "If-None-Match": etag}
    assert (await client.get(url, headers=conditional)).status_code == 304
    await _made_days_ago(app, intro["id"], 15)
    due = await client.get(url, headers=conditional)
    assert due.status_code == 200
    assert due.json()["needs_follow_up"] is True
    assert due.headers["etag"] != etag
