"""The hot reads (GET /v1/contacts/{id}, list pages) send contacts built from rows and
serialised with orjson, not through ContactRead. Clients must not be able to tell: the
bytes are the ones ContactRead would have produced."""

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from app.contacts import service
from app.contacts.models import Contact
from app.contacts.schemas import ChannelType, ChannelUse, ContactRead, TrustStage
from app.core.pagination import Page
from app.core.reciprocity import Reciprocity, contact_reciprocity
from app.core.responses import ORJSONResponse
from tests.factories import Actor, contact_body

text = st.text(max_size=30)  # any code point: escapes must match too
maybe_text = st.none() | text
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
channels = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from([t.value for t in ChannelType]),
            "value": text,
            "permitted_uses": st.lists(st.sampled_from([u.value for u in ChannelUse]), unique=True),
        }
    ),
    max_size=3,
)
# The owner's reciprocity ratio, as the settings take it.
ratios = st.integers(1, 50)
rows = st.fixed_dictionaries(
    {
        "id": text,
        "display_name": text,
        "given_name": maybe_text,
        "family_name": maybe_text,
        "organization": maybe_text,
        "title": maybe_text,
        "timezone": maybe_text,
        "trust_stage": st.sampled_from([s.value for s in TrustStage]),
        "cadence_days": st.none() | st.integers(1, 3650),
        "tags": st.lists(text, max_size=3),
        "notes": maybe_text,
        "channels": channels,
        "external_refs": st.dictionaries(text, text, max_size=3),
        "needs": st.lists(text, max_size=3),
        "offers": st.lists(text, max_size=3),
        "connected_at": st.none() | moments,
        "last_interaction_at": st.none() | moments,
        "created_at": moments,
        "updated_at": moments,
        "archived_at": st.none() | moments,
        "ledger_deposits": st.integers(0, 10**9),
        "ledger_withdrawals": st.integers(0, 10**9),
        "due_at": st.none() | moments,
    }
)


@settings(max_examples=300)
@given(row=rows, ratio=ratios)
def test_a_document_serialises_exactly_as_contact_read(row: dict[str, Any], ratio: int) -> None:
    (document,) = service.contact_documents([row], ratio)
    fast = ORJSONResponse(document).body
    assert fast == ContactRead.model_validate(document).model_dump_json().encode()


def test_a_stored_channel_with_more_keys_shows_only_the_public_ones() -> None:
    row = {
        "id": "c",
        "display_name": "Ada",
        "given_name": None,
        "family_name": None,
        "organization": None,
        "title": None,
        "timezone": None,
        "trust_stage": "known",
        "cadence_days": None,
        "tags": [],
        "notes": None,
        "channels": [{"type": "email", "value": "a@x", "permitted_uses": [], "key": "a@x"}],
        "external_refs": {},
        "needs": [],
        "offers": [],
        "connected_at": None,
        "last_interaction_at": None,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
        "archived_at": None,
        "ledger_deposits": 0,
        "ledger_withdrawals": 0,
        "due_at": None,
    }
    channel = orjson.loads(ORJSONResponse(service.contact_documents([row], 7)[0]).body)["channels"][
        0
    ]
    assert channel == {"type": "email", "value": "a@x", "permitted_uses": []}


@settings(max_examples=100)
@given(
    totals=st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)),
    due_at=st.none() | moments,
    ratio=ratios,
    ask_weight=st.integers(1, 5),
)
def test_a_reciprocity_serialises_exactly_as_the_model(
    totals: tuple[int, int], due_at: datetime | None, ratio: int, ask_weight: int
) -> None:
    row = {"ledger_deposits": totals[0], "ledger_withdrawals": totals[1], "due_at": due_at}
    summary = contact_reciprocity(row, ratio, datetime.now(UTC), ask_weight=ask_weight)
    fast = ORJSONResponse(summary).body
    assert fast == Reciprocity.model_validate(summary).model_dump_json().encode()


def _as_contact_read(content: bytes) -> bytes:
    return ContactRead.model_validate_json(content).model_dump_json().encode()


@settings(max_examples=100)
@given(row=rows, ratio=ratios)
def test_an_entity_presents_as_its_row_does(row: dict[str, Any], ratio: int) -> None:
    now = datetime.now(UTC)
    entity = Contact(owner_id="ow", search_text="", channel_uses=",", version=1, **row)
    assert service.contact_document(entity, ratio, now) == service.contact_document(row, ratio, now)


async def test_create_update_get_and_list_answer_what_contact_read_would(
    client: Any, owner: Actor, app: FastAPI
) -> None:
    """Through the API, with what the database really returns (UTC re-attached on SQLite,
    JSON columns decoded by the driver), stale and overdrawn flags included."""
    created = []
    for n, extra in enumerate(
        [
            {},
            {"display_name": 'Zoë 🌱 "quoted"\n', "cadence_days": 1, "tags": []},
            {"given_name": None, "channels": [], "external_refs": {}, "notes": "\u2028 / \\"},
        ]
    ):
        body = contact_body(**extra)
        body["external_refs"] = {"hubspot": f"doc-{n}"} if body["external_refs"] else {}
        response = await client.post("/v1/contacts", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        assert response.content == _as_contact_read(response.content)
        created.append(response.json()["id"])
    # An update answers from the entity the same document a read gives from the row.
    current = await client.get(f"/v1/contacts/{created[2]}", headers=owner.headers)
    response = await client.patch(
        f"/v1/contacts/{created[2]}",
        json={"title": "Zoë\u2028"},
        headers={**owner.headers, "If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200, response.text
    assert response.content == _as_contact_read(response.content)
    again = await client.get(f"/v1/contacts/{created[2]}", headers=owner.headers)
    assert (response.content, response.headers["ETag"]) == (again.content, again.headers["ETag"])
    # Met long ago: past its cadence (stale); a favour received: overdrawn.
    long_ago = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    meeting = {"kind": "call", "occurred_at": long_ago}
    response = await client.post(
        f"/v1/contacts/{created[1]}/interactions", json=meeting, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    entry = {"contact_id": created[1], "direction": "received", "kind": "advice", "weight": 2}
    assert (await client.post("/v1/ledger", json=entry, headers=owner.headers)).status_code == 201

    for contact_id in created:
        response = await client.get(f"/v1/contacts/{contact_id}", headers=owner.headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["ETag"]
        model = ContactRead.model_validate_json(response.content)
        assert response.content == model.model_dump_json().encode()
    flags = ContactRead.model_validate_json(
        (await client.get(f"/v1/contacts/{created[1]}", headers=owner.headers)).content
    ).reciprocity.flags
    assert {f.value for f in flags} == {"stale", "overdrawn"}
    # The reciprocity endpoint answers what the contact embeds, from the same function.
    for contact_id in created:
        embedded = (await client.get(f"/v1/contacts/{contact_id}", headers=owner.headers)).json()
        response = await client.get(f"/v1/contacts/{contact_id}/reciprocity", headers=owner.headers)
        assert response.json() == embedded["reciprocity"]
        model = Reciprocity.model_validate_json(response.content)
        assert response.content == model.model_dump_json().encode()

    response = await client.get("/v1/contacts", params={"limit": 2}, headers=owner.headers)
    page = Page[ContactRead].model_validate_json(response.content)
    assert response.content == page.model_dump_json().encode()
    assert [c.id for c in page.data] == created[:2]
    assert page.next_cursor is not None
