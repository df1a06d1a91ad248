"""Introductions are answered as documents built from rows or entities and serialised with
orjson, not through IntroductionRead. Clients must not be able to tell: the bytes are the
ones IntroductionRead would have produced, on every answer and on the list."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.pagination import Page
from app.core.responses import ORJSONResponse
from app.introductions import service
from app.introductions.models import Introduction
from app.introductions.schemas import IntroductionRead, Outcome
from app.introductions.workflow import State
from tests.factories import Actor, create_introduction, create_pair

text = st.text(max_size=30)  # any code point: escapes must match too
maybe_text = st.none() | text
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
maybe_moment = st.none() | moments
outcomes = st.none() | st.sampled_from([o.value for o in Outcome])
rows = st.fixed_dictionaries(
    {
        "id": text,
        "requester_id": text,
        "target_id": text,
        "state": st.sampled_from([s.value for s in State]),
        "reason": text,
        "benefit_to_target": maybe_text,
        "offer": maybe_text,
        "consent_requested_at": maybe_moment,
        "consent_expires_at": maybe_moment,
        "decided_via": st.none() | st.sampled_from(["link", "owner"]),
        "decided_at": maybe_moment,
        "evidence": maybe_text,
        "target_message": maybe_text,
        "made_at": maybe_moment,
        "requester_outcome": outcomes,
        "requester_feedback_at": maybe_moment,
        "target_outcome": outcomes,
        "target_feedback_at": maybe_moment,
        "ended_at": maybe_moment,
        "version": st.integers(1, 1000),
        "created_at": moments,
        "updated_at": moments,
    }
)


@settings(max_examples=300)
@given(row=rows, days=st.integers(1, 365), consent_url=st.none() | text)
def test_a_document_serialises_exactly_as_introduction_read(
    row: dict[str, Any], days: int, consent_url: str | None
) -> None:
    now = datetime.now(UTC)
    document = service.introduction_document(row, days, now, consent_url)
    fast = ORJSONResponse(document).body
    assert fast == IntroductionRead.model_validate(document).model_dump_json().encode()


@settings(max_examples=100)
@given(row=rows, days=st.integers(1, 365))
def test_an_entity_presents_as_its_row_does(row: dict[str, Any], days: int) -> None:
    now = datetime.now(UTC)
    entity = Introduction(owner_id="ow", consent_token_hash="h", **row)
    assert service.introduction_document(entity, days, now) == service.introduction_document(
        row, days, now
    )


def _row(**values: Any) -> dict[str, Any]:
    now = values.pop("now")
    row: dict[str, Any] = {name: None for name in service._ROW_FIELDS}
    row.update(id="i", requester_id="r", target_id="t", reason="x", created_at=now)
    row.update(updated_at=now, version=1)
    for side in ("requester", "target"):
        if values.get(f"{side}_outcome"):
            row[f"{side}_feedback_at"] = now
    return {**row, **values}


def test_follow_up_is_due_from_the_silent_sides_of_made_introductions_past_the_delay() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)

    def due(
        state: State,
        made_days_ago: int | None,
        requester: str | None = None,
        target: str | None = None,
    ) -> tuple[list[str], bool]:
        made_at = None if made_days_ago is None else now - timedelta(days=made_days_ago)
        row = _row(
            now=now,
            state=state.value,
            made_at=made_at,
            requester_outcome=requester,
            target_outcome=target,
        )
        document = service.introduction_document(row, 14, now)
        return document["follow_up_due_from"], document["needs_follow_up"]

    assert due(State.made, 15) == (["requester", "target"], True)
    assert due(State.made, 14) == ([], False)  # exactly at the delay: not yet
    assert due(State.made, 3) == ([], False)
    assert due(State.completed, 3, requester="connected") == ([], False)
    # One side's answer completes it; the other side's silence is still due.
    assert due(State.completed, 30, requester="connected") == (["target"], True)
    assert due(State.completed, 30, target="not_contacted") == (["requester"], True)
    assert due(State.completed, 30, requester="connected", target="valuable") == ([], False)
    assert due(State.made, None) == ([], False)
    for state in (State.requested, State.consented, State.withdrawn):
        assert due(state, 30) == ([], False)


def test_outcomes_disagree_when_one_side_met_and_the_other_was_never_contacted() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)

    def flags(requester: str | None, target: str | None) -> list[str]:
        row = _row(
            now=now,
            state=State.completed.value,
            made_at=now,
            requester_outcome=requester,
            target_outcome=target,
        )
        return service.introduction_document(row, 14, now)["flags"]

    for met in ("connected", "valuable"):
        assert flags(met, "not_contacted") == ["outcomes_disagree"]
        assert flags("not_contacted", met) == ["outcomes_disagree"]
        assert flags(met, None) == []
        assert flags(met, "not_useful") == []
    assert flags("not_contacted", "not_contacted") == []
    assert flags("not_contacted", "not_useful") == []
    assert flags("connected", "valuable") == []
    assert flags(None, None) == []


def _as_read(content: bytes) -> bytes:
    return IntroductionRead.model_validate_json(content).model_dump_json().encode()


async def test_every_answer_and_the_list_are_what_introduction_read_would_send(
    client: Any, owner: Actor
) -> None:
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    url = f"/v1/introductions/{intro['id']}"
    answers = [
        await client.get(url, headers=owner.headers),
        await client.post(f"{url}/consent-request", headers=owner.headers),
        await client.post(
            f"{url}/consent",
            json={"decision": "accept", "evidence": 'said "yes" 🌱 on the phone\u2028'},
            headers=owner.headers,
        ),
        await client.post(f"{url}/make", headers=owner.headers),
        await client.post(
            f"{url}/feedback",
            json={"from": "target", "outcome": "connected"},
            headers=owner.headers,
        ),
    ]
    for response in answers:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["ETag"]
        assert response.content == _as_read(response.content)
    assert answers[1].json()["consent_url"].startswith("http")
    final = answers[-1].json()
    assert final["feedback"]["target"] == "connected"
    assert final["feedback"]["requester"] is None
    again = await client.get(url, headers=owner.headers)
    assert again.headers["ETag"] == answers[-1].headers["ETag"]
    assert again.json() == {**final, "consent_url": None}

    second = await create_introduction(client, owner, target["id"], requester["id"])
    response = await client.get("/v1/introductions", params={"limit": 1}, headers=owner.headers)
    assert response.status_code == 200
    page = Page[IntroductionRead].model_validate_json(response.content)
    assert response.content == page.model_dump_json().encode()
    assert [i.id for i in page.data] == [second["id"]]
    rest = await client.get(
        "/v1/introductions",
        params={"limit": 1, "cursor": page.next_cursor},
        headers=owner.headers,
    )
    assert [i["id"] for i in rest.json()["data"]] == [intro["id"]]
    assert rest.json()["next_cursor"] is None
