"""Feedback from both sides of a made introduction, and the follow-up still due from them."""

import pytest

from tests.factories import create_introduction, create_pair
from tests.introductions.test_routes import _made_days_ago

OTHER = {"requester": "target", "target": "requester"}


async def post(client, owner, intro_id, action, body=None):
    return await client.post(
        f"/v1/introductions/{intro_id}/{action}", json=body or {}, headers=owner.headers
    )


async def feedback(client, owner, intro_id, side, outcome, note=None):
    body = {"from": side, "outcome": outcome, **({"note": note} if note else {})}
    return await post(client, owner, intro_id, "feedback", body)


async def read(client, owner, intro_id):
    return (await client.get(f"/v1/introductions/{intro_id}", headers=owner.headers)).json()


async def made_introduction(client, owner, pair=None):
    requester, target = pair or await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    await post(client, owner, intro["id"], "consent", {"decision": "accept", "evidence": "Yes"})
    made = await post(client, owner, intro["id"], "make")
    assert made.status_code == 200, made.text
    return made.json()


async def due_ids(client, owner, needs_follow_up: str) -> list[str]:
    response = await client.get(
        "/v1/introductions", params={"needs_follow_up": needs_follow_up}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    return [i["id"] for i in response.json()["data"]]


@pytest.mark.parametrize("first", ["requester", "target"])
async def test_both_sides_answer_once_each_in_either_order(client, owner, first):
    second = OTHER[first]
    intro = await made_introduction(client, owner)
    assert intro["feedback"] == {"requester": None, "target": None}
    assert intro["follow_up_due_from"] == [] and intro["flags"] == []

    answered = await feedback(client, owner, intro["id"], first, "connected")
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["state"] == "completed" and body["ended_at"]
    assert body["feedback"][first] == "connected"
    assert body["feedback"][second] is None
    assert body["feedback_at"][first] is not None
    assert body["feedback_at"][second] is None

    again = await feedback(client, owner, intro["id"], first, "not_useful")
    assert again.status_code == 409
    assert again.json()["type"].endswith("feedback-already-given")
    assert (await read(client, owner, intro["id"]))["feedback"][first] == "connected"

    other = await feedback(client, owner, intro["id"], second, "not_useful", note="Meh")
    assert other.status_code == 200, other.text
    both = other.json()
    assert both["state"] == "completed" and both["ended_at"] == body["ended_at"]
    assert {side: both["feedback"][side] for side in both["feedback"]} == {
        first: "connected",
        second: "not_useful",
    }
    for side in (first, second):
        late = await feedback(client, owner, intro["id"], side, "valuable")
        assert late.status_code == 409
    assert await read(client, owner, intro["id"]) == {**both, "consent_url": None}

    timeline = (
        await client.get(f"/v1/introductions/{intro['id']}/events", headers=owner.headers)
    ).json()["data"]
    assert [(e["action"], e["from_state"], e["to_state"], e["data"]) for e in timeline[-2:]] == [
        ("feedback", "made", "completed", {"from": first, "outcome": "connected"}),
        ("feedback", "completed", "completed", {"from": second, "outcome": "not_useful"}),
    ]
    assert timeline[-1]["note"] == "Meh"
    events = await client.get("/v1/events", params={"limit": 200}, headers=owner.headers)
    feed = [e for e in events.json()["data"] if e["resource_id"] == intro["id"]]
    assert [(e["type"], e["data"].get("from"), e["data"].get("outcome")) for e in feed[-3:]] == [
        ("introduction.completed", None, None),
        ("introduction.feedback_received", first, "connected"),
        ("introduction.feedback_received", second, "not_useful"),
    ]


async def test_feedback_before_the_introduction_is_made_is_refused(client, owner):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    for step, body in [
        (None, None),
        ("consent-request", {}),
        ("consent", {"decision": "accept", "evidence": "Yes"}),
    ]:
        if step:
            assert (await post(client, owner, intro["id"], step, body)).status_code == 200
        refused = await feedback(client, owner, intro["id"], "requester", "connected")
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("transition-not-allowed")
        assert "made" in refused.json()["detail"]
    after = await read(client, owner, intro["id"])
    assert after["state"] == "consented"
    assert after["feedback"] == {"requester": None, "target": None}


async def test_follow_up_is_due_from_each_silent_side_once_the_delay_passed(client, owner, app):
    intro = await made_introduction(client, owner)
    url = f"/v1/introductions/{intro['id']}"
    assert await due_ids(client, owner, "true") == []
    await _made_days_ago(app, intro["id"], 15)
    due = await read(client, owner, intro["id"])
    assert due["follow_up_due_from"] == ["requester", "target"]
    assert due["needs_follow_up"] is True
    assert await due_ids(client, owner, "true") == [intro["id"]]

    # "Connected", says the requester: completed, but the target's word is still due.
    await feedback(client, owner, intro["id"], "requester", "connected")
    one_side = await read(client, owner, intro["id"])
    assert one_side["state"] == "completed"
    assert one_side["follow_up_due_from"] == ["target"]
    assert one_side["needs_follow_up"] is True
    assert await due_ids(client, owner, "true") == [intro["id"]]
    assert await due_ids(client, owner, "false") == []

    # The owner's delay decides when it is due.
    await client.patch("/v1/settings", json={"follow_up_after_days": 30}, headers=owner.headers)
    later = await read(client, owner, intro["id"])
    assert later["follow_up_due_from"] == [] and later["needs_follow_up"] is False
    assert await due_ids(client, owner, "true") == []
    await client.patch("/v1/settings", json={"follow_up_after_days": 14}, headers=owner.headers)

    await feedback(client, owner, intro["id"], "target", "not_contacted")
    done = (await client.get(url, headers=owner.headers)).json()
    assert done["follow_up_due_from"] == [] and done["needs_follow_up"] is False
    assert await due_ids(client, owner, "true") == []
    assert await due_ids(client, owner, "false") == [intro["id"]]


async def test_the_etag_changes_when_the_silent_side_falls_due(client, owner, app):
    """Completed by one side, an introduction's follow-up falls due with time alone: its
    ETag must change with it, or a client's 304 would hide the other side's silence."""
    intro = await made_introduction(client, owner)
    answered = await feedback(client, owner, intro["id"], "target", "valuable")
    url = f"/v1/introductions/{intro['id']}"
    conditional = {**owner.headers, "If-None-Match": answered.headers["etag"]}
    assert (await client.get(url, headers=conditional)).status_code == 304
    await _made_days_ago(app, intro["id"], 15)
    due = await client.get(url, headers=conditional)
    assert due.status_code == 200
    assert due.json()["follow_up_due_from"] == ["requester"]


@pytest.mark.parametrize(
    ("requester", "target"),
    [
        ("connected", "not_contacted"),
        ("not_contacted", "connected"),
        ("valuable", "not_contacted"),
        ("not_contacted", "valuable"),
    ],
)
async def test_outcomes_disagree_when_one_side_never_heard_from_the_other(
    client, owner, requester, target
):
    intro = await made_introduction(client, owner)
    first = await feedback(client, owner, intro["id"], "requester", requester)
    assert first.json()["flags"] == []
    second = await feedback(client, owner, intro["id"], "target", target)
    assert second.json()["flags"] == ["outcomes_disagree"]
    assert (await read(client, owner, intro["id"]))["flags"] == ["outcomes_disagree"]
    listed = await client.get("/v1/introductions", headers=owner.headers)
    [document] = [i for i in listed.json()["data"] if i["id"] == intro["id"]]
    assert document["flags"] == ["outcomes_disagree"]


async def test_outcomes_that_do_not_contradict_raise_no_flag(client, owner):
    pair = await create_pair(client, owner)
    for requester, target in [
        ("connected", "valuable"),
        ("not_contacted", "not_contacted"),
        ("connected", "not_useful"),
    ]:
        intro = await made_introduction(client, owner, pair)
        await feedback(client, owner, intro["id"], "requester", requester)
        answer = await feedback(client, owner, intro["id"], "target", target)
        assert answer.json()["flags"] == [], (requester, target)
