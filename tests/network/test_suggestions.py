"""GET /v1/suggestions: introductions worth offering, where one contact's need is another's
offer, never one the introduction rules would refuse."""

from datetime import timedelta

from sqlalchemy import update

from app.core.types import utcnow
from app.introductions.models import Introduction
from app.network import suggestions as service
from tests.factories import create_introduction
from tests.network.graph import archive, give, person


def personal_only(name: str) -> list[dict]:
    """A channel that may not be used for introductions."""
    return [{"type": "email", "value": f"{name}@example.com", "permitted_uses": ["personal"]}]


async def suggestions(client, actor, **params) -> list[dict]:
    response = await client.get("/v1/suggestions", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def pairs(data: list[dict]) -> list[tuple[str, str]]:
    return [(s["requester_id"], s["target_id"]) for s in data]


async def _dana_and_eli(client, owner, **eli):
    dana = await person(client, owner, "Dana", needs=["Seed Funding"])
    eli_id = await person(client, owner, "Eli", offers=["  seed   funding"], **eli)
    return dana, eli_id


async def test_a_need_meets_an_offer_trimmed_and_case_folded(client, owner):
    dana, eli = await _dana_and_eli(client, owner)
    (suggestion,) = await suggestions(client, owner)
    assert suggestion == {
        "requester_id": dana,
        "target_id": eli,
        "need": "seed funding",
        "reason": "Dana needs seed funding and Eli offers it: offer to introduce them.",
        # Both `known` (contact_body): 10 x 2 + 10 x 2.
        "score": 40,
    }


async def test_a_contact_is_never_paired_with_itself(client, owner):
    await person(client, owner, "Sam", needs=["advice"], offers=["Advice"])
    assert await suggestions(client, owner) == []


async def test_a_pair_with_an_open_introduction_is_left_out_until_it_ends(client, owner):
    dana, eli = await _dana_and_eli(client, owner)
    # The other direction is another pair.
    await client.patch(f"/v1/contacts/{eli}", json={"needs": ["design"]}, headers=owner.headers)
    await client.patch(f"/v1/contacts/{dana}", json={"offers": ["design"]}, headers=owner.headers)
    assert set(pairs(await suggestions(client, owner))) == {(dana, eli), (eli, dana)}
    intro = await create_introduction(client, owner, dana, eli)
    assert pairs(await suggestions(client, owner)) == [(eli, dana)]
    for step, body in (
        ("consent-request", {}),
        ("consent", {"decision": "accept", "evidence": "Yes"}),
    ):
        response = await client.post(
            f"/v1/introductions/{intro['id']}/{step}", json=body, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        assert pairs(await suggestions(client, owner)) == [(eli, dana)]
    withdrawn = await client.post(
        f"/v1/introductions/{intro['id']}/withdraw", json={}, headers=owner.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert set(pairs(await suggestions(client, owner))) == {(dana, eli), (eli, dana)}


async def test_a_decline_keeps_the_pair_out_for_the_owners_cooldown(app, client, owner):
    dana, eli = await _dana_and_eli(client, owner)
    intro = await create_introduction(client, owner, dana, eli)
    for step, body in (
        ("consent-request", {}),
        ("consent", {"decision": "decline", "evidence": "Not now, said Eli"}),
    ):
        response = await client.post(
            f"/v1/introductions/{intro['id']}/{step}", json=body, headers=owner.headers
        )
        assert response.status_code == 200, response.text
    assert await suggestions(client, owner) == []
    # Declined 40 days ago: still within the default 90 days, not within 30.
    async with app.state.sessionmaker() as session:
        await session.exec(
            update(Introduction)
            .where(Introduction.owner_id == owner.owner_id, Introduction.id == intro["id"])
            .values(decided_at=utcnow() - timedelta(days=40))
        )
        await session.commit()
    assert await suggestions(client, owner) == []
    settings = await client.patch(
        "/v1/settings", json={"decline_cooldown_days": 30}, headers=owner.headers
    )
    assert settings.status_code == 200, settings.text
    assert pairs(await suggestions(client, owner)) == [(dana, eli)]


async def test_a_target_without_a_channel_for_introductions_is_left_out(client, owner):
    await _dana_and_eli(client, owner, channels=personal_only("eli"))
    assert await suggestions(client, owner) == []
    # The requester's channels do not matter: it is the target who is asked.
    ann = await person(client, owner, "Ann", needs=["design"], channels=personal_only("ann"))
    bo = await person(client, owner, "Bo", offers=["design"])
    assert pairs(await suggestions(client, owner)) == [(ann, bo)]


async def test_a_target_at_the_pending_consent_cap_is_left_out(client, owner):
    dana, eli = await _dana_and_eli(client, owner)
    await client.patch(
        "/v1/settings", json={"max_pending_consents_per_target": 1}, headers=owner.headers
    )
    other = await person(client, owner, "Olga")
    intro = await create_introduction(client, owner, other, eli)
    assert pairs(await suggestions(client, owner)) == [(dana, eli)]  # requested: not pending
    asked = await client.post(
        f"/v1/introductions/{intro['id']}/consent-request", json={}, headers=owner.headers
    )
    assert asked.status_code == 200, asked.text
    assert await suggestions(client, owner) == []
    await client.patch(
        "/v1/settings", json={"max_pending_consents_per_target": 2}, headers=owner.headers
    )
    assert pairs(await suggestions(client, owner)) == [(dana, eli)]


async def test_archived_contacts_on_either_side_are_left_out(client, owner):
    dana, eli = await _dana_and_eli(client, owner)
    fay = await person(client, owner, "Fay", needs=["seed funding"])
    gil = await person(client, owner, "Gil", offers=["seed funding"])
    assert len(await suggestions(client, owner)) == 4
    await archive(client, owner, dana)
    await archive(client, owner, gil)
    assert pairs(await suggestions(client, owner)) == [(fay, eli)]


async def test_a_pair_matching_twice_is_one_suggestion(client, owner):
    dana = await person(client, owner, "Dana", needs=["intros", "advice"])
    eli = await person(client, owner, "Eli", offers=["Advice", "Intros"])
    (suggestion,) = await suggestions(client, owner)
    assert (suggestion["requester_id"], suggestion["target_id"]) == (dana, eli)
    assert suggestion["need"] == "advice"


async def test_ranked_by_trust_and_goodwill_with_the_target(client, owner):
    stranger = await person(client, owner, "Sid", needs=["advice"], trust_stage="stranger")
    trusted = await person(client, owner, "Tia", needs=["advice"], trust_stage="trusted")
    liked = await person(client, owner, "Lou", offers=["advice"], trust_stage="liked")
    owed = await person(client, owner, "Ola", offers=["advice"], trust_stage="acquaintance")
    # The owner gave Ola 7 (the ratio): asking Ola a favour of weight 1 is fair.
    await give(client, owner, owed, 5)
    await give(client, owner, owed, 2)
    data = await suggestions(client, owner)
    assert [(s["requester_id"], s["target_id"], s["score"]) for s in data] == [
        (trusted, owed, 40 + 10 + 50),
        (trusted, liked, 40 + 30),
        (stranger, owed, 10 + 50),
        (stranger, liked, 30),
    ]


async def test_each_phrase_brings_its_best_few(client, owner, monkeypatch):
    monkeypatch.setattr(service, "PER_PHRASE", 2)
    target = await person(client, owner, "Theo", offers=["advice"])
    best = await person(client, owner, "Tia", needs=["advice"], trust_stage="trusted")
    good = await person(client, owner, "Lou", needs=["advice"], trust_stage="liked")
    await person(client, owner, "Sid", needs=["advice"], trust_stage="stranger")
    assert pairs(await suggestions(client, owner)) == [(best, target), (good, target)]


async def test_pages_cover_every_suggestion_once_in_order(client, owner):
    for n in range(4):
        await person(client, owner, f"Need {n}", needs=["advice"])
        await person(client, owner, f"Offer {n}", offers=["advice"])
    everything = await suggestions(client, owner, limit=200)
    assert len(everything) == 16
    keys = [(-s["score"], s["requester_id"], s["target_id"]) for s in everything]
    assert keys == sorted(keys)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/suggestions", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        seen += response.json()["data"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == everything


async def test_another_owners_contacts_are_never_suggested(client, owner, other_owner):
    await _dana_and_eli(client, other_owner)
    mine = await person(client, owner, "Mo", needs=["seed funding"])
    assert await suggestions(client, owner) == []
    theirs = await suggestions(client, other_owner)
    assert mine not in {s["requester_id"] for s in theirs}
    assert len(theirs) == 1


async def test_a_change_of_the_owners_ratio_is_seen_at_once(client, owner):
    """Suggestions are kept while the owner's data is unchanged; a settings change is one."""
    await person(client, owner, "Dana", needs=["advice"])
    eli = await person(client, owner, "Eli", offers=["advice"])
    await give(client, owner, eli, 5)
    await give(client, owner, eli, 2)
    assert [s["score"] for s in await suggestions(client, owner)] == [40 + 50]
    await client.patch("/v1/settings", json={"reciprocity_ratio": 8}, headers=owner.headers)
    assert [s["score"] for s in await suggestions(client, owner)] == [40]
