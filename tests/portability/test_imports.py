"""POST /v1/imports over HTTP, with the real session and commit path."""

from pathlib import Path

import pytest

from app.contacts.models import ContactIdentifier
from app.core.unit_of_work import commit
from app.portability import service
from tests.factories import create_contact

FIXTURES = Path(__file__).parent / "fixtures"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.iterdir())


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


async def upload(client, actor, content: bytes, **params):
    params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
    return await client.post(
        "/v1/imports",
        content=content,
        params=params,
        headers={**actor.headers, "Content-Type": "text/csv"},
    )


async def imported(client, actor, content: bytes, **params) -> dict:
    response = await upload(client, actor, content, **params)
    assert response.status_code == 200, response.text
    return response.json()


async def all_contacts(client, actor) -> list[dict]:
    response = await client.get("/v1/contacts", params={"limit": 200}, headers=actor.headers)
    return response.json()["data"]


async def events(client, actor) -> list[dict]:
    response = await client.get("/v1/events", params={"limit": 200}, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def statuses(summary: dict) -> dict[int, str]:
    return {row["row"]: row["status"] for row in summary["rows"]}


async def test_dry_run_reports_and_writes_nothing(client, owner):
    before = await events(client, owner)
    summary = await imported(client, owner, fixture("linkedin_connections.csv"), dry_run=True)
    assert summary["dry_run"] is True
    assert summary["format"] == "linkedin_csv"
    assert (summary["created"], summary["rejected"]) == (5, 1)
    assert all(r["contact_id"] is None for r in summary["rows"])
    assert await all_contacts(client, owner) == []
    assert await events(client, owner) == before


async def test_import_creates_and_reimport_is_all_unchanged(client, owner):
    first = await imported(client, owner, fixture("linkedin_connections.csv"))
    assert statuses(first) == {
        1: "created",
        2: "created",
        3: "created",
        4: "created",
        5: "rejected",
        6: "created",
    }
    contacts = await all_contacts(client, owner)
    assert len(contacts) == 5
    ada = next(c for c in contacts if c["display_name"] == "Ada Lovelace")
    assert ada["external_refs"] == {"linkedin": "https://www.linkedin.com/in/ada-lovelace-1815"}
    # Imported people never consented to anything.
    assert all(ch["permitted_uses"] == [] for c in contacts for ch in c["channels"])
    second = await imported(client, owner, fixture("linkedin_connections.csv"))
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 5)
    assert {r["contact_id"] for r in second["rows"] if r["contact_id"]} == {
        c["id"] for c in contacts
    }
    assert len(await all_contacts(client, owner)) == 5


@pytest.mark.parametrize("name", ALL_FIXTURES)
async def test_every_fixture_reimports_unchanged(client, owner, name):
    first = await imported(client, owner, fixture(name))
    assert first["created"] > 0
    again = await imported(client, owner, fixture(name))
    assert again["created"] == again["updated"] == 0
    assert again["unchanged"] == first["created"]
    assert again["rejected"] == first["rejected"]


async def test_each_import_records_contact_events(client, owner):
    await imported(client, owner, fixture("google_contacts.vcf"))
    created = [e for e in await events(client, owner) if e["type"] == "contact.created"]
    assert len(created) == 2
    card = "BEGIN:VCARD\nVERSION:3.0\nFN:Katherine Johnson\nEMAIL:katherine@example.com\n"
    summary = await imported(client, owner, (card + "TITLE:Mathematician\nEND:VCARD\n").encode())
    assert summary["updated"] == 1
    updated = [e for e in await events(client, owner) if e["type"] == "contact.updated"]
    assert [e["data"]["title"] for e in updated] == ["Mathematician"]


async def test_update_by_email_adds_and_never_removes(client, owner):
    ada = await create_contact(
        client,
        owner,
        display_name="Ada Lovelace",
        organization="Old Org",
        channels=[
            {"type": "email", "value": "ADA@example.com", "permitted_uses": ["introductions"]},
            {"type": "phone", "value": "+44 20 7946 0000", "permitted_uses": ["personal"]},
        ],
        tags=["math"],
        notes="Mine.",
        external_refs={"hubspot": "hs-1"},
    )
    summary = await imported(client, owner, fixture("linkedin_connections.csv"))
    assert summary["rows"][0] == {
        "row": 1,
        "status": "updated",
        "contact_id": ada["id"],
        "errors": [],
    }
    after = (await client.get(f"/v1/contacts/{ada['id']}", headers=owner.headers)).json()
    assert after["organization"] == "Analytical Engines Ltd"  # the file has a value: it wins
    assert after["trust_stage"] == ada["trust_stage"]
    assert after["notes"] == "Mine."
    assert after["tags"] == ["math"]
    assert after["external_refs"] == {
        "hubspot": "hs-1",
        "linkedin": "https://www.linkedin.com/in/ada-lovelace-1815",
    }
    # Her consent on the existing channels is untouched; the new one has none.
    uses = {c["type"]: c["permitted_uses"] for c in after["channels"]}
    assert uses == {"email": ["introductions"], "phone": ["personal"], "linkedin": []}


async def test_update_by_external_ref_and_by_phone(client, owner):
    grace = await create_contact(
        client,
        owner,
        display_name="Amazing Grace",
        channels=[],
        external_refs={"linkedin": "https://www.linkedin.com/in/gracehopper"},
    )
    bletchley = await create_contact(
        client,
        owner,
        display_name="Reception",
        channels=[{"type": "phone", "value": "+44 (0)1908 640404"}],
        external_refs={},
    )
    linkedin = await imported(client, owner, fixture("linkedin_connections.csv"))
    assert linkedin["rows"][1]["contact_id"] == grace["id"]
    assert linkedin["rows"][1]["status"] == "updated"
    google = await imported(client, owner, fixture("google_contacts.csv"))
    assert google["rows"][2]["contact_id"] == bletchley["id"]
    renamed = (await client.get(f"/v1/contacts/{bletchley['id']}", headers=owner.headers)).json()
    assert renamed["display_name"] == "Bletchley Reception"


async def test_bad_rows_are_reported_with_fields_and_good_rows_kept(client, owner):
    summary = await imported(client, owner, fixture("google_contacts.csv"))
    rows = {row["row"]: row for row in summary["rows"]}
    # Rows 4 and 5 keep their people, without the number and the address that are none.
    assert (summary["created"], summary["rejected"]) == (6, 1)
    assert rows[4]["status"] == "created"
    assert rows[4]["errors"][0]["field"] == "Phone 1 - Value"
    assert "region=GB" in rows[4]["errors"][0]["message"]
    assert rows[5]["status"] == "created"
    assert rows[5]["errors"][0]["field"] == "E-mail 1 - Value"
    assert rows[7]["status"] == "rejected"
    assert rows[7]["contact_id"] is None
    contacts = {c["id"]: c for c in await all_contacts(client, owner)}
    assert len(contacts) == 6
    assert contacts[rows[4]["contact_id"]]["channels"] == []
    # Given the region, the number is one.
    with_region = await imported(
        client, owner, fixture("google_contacts.csv"), region="gb", dry_run=True
    )
    assert with_region["rows"][3]["errors"] == []


async def test_a_value_invalid_for_the_contact_schema_is_left_out(client, owner):
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    body = header + f"Ada,Lovelace,,,{'x' * 250},Countess,\nGrace,Hopper,,,Navy,,\n"
    summary = await imported(client, owner, body.encode())
    assert summary["rows"][0]["status"] == "created"
    assert [e["field"] for e in summary["rows"][0]["errors"]] == ["organization"]
    assert summary["rows"][1]["status"] == "created"
    ada = (
        await client.get(f"/v1/contacts/{summary['rows'][0]['contact_id']}", headers=owner.headers)
    ).json()
    assert (ada["organization"], ada["title"]) == (None, "Countess")


async def test_duplicates_within_one_file_make_one_contact(client, owner):
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    row = "Ada,Lovelace,https://linkedin.com/in/ada,ada@example.com,{},,\n"
    body = header + row.format("A") + row.format("B")
    for dry_run in (True, False):
        summary = await imported(client, owner, body.encode(), dry_run=dry_run)
        assert [r["status"] for r in summary["rows"]] == ["created", "updated"]
    contacts = await all_contacts(client, owner)
    assert [c["organization"] for c in contacts] == ["B"]


async def test_an_email_shared_by_two_contacts_is_ambiguous(app, client, owner):
    # Two people behind one address (a shared inbox), from before the API refused a second
    # contact with an address another has (409): such data can still be there.
    for name in ("Front Desk", "Reception"):
        contact = await create_contact(
            client, owner, display_name=name, channels=[], external_refs={}
        )
        async with app.state.sessionmaker() as session:
            key = {"owner_id": owner.owner_id, "contact_id": contact["id"]}
            session.add(ContactIdentifier(**key, kind="email", value="ada@example.com"))
            await commit(session)
    summary = await imported(client, owner, fixture("linkedin_connections.csv"))
    assert summary["rows"][0]["status"] == "rejected"
    assert summary["rows"][0]["errors"][0]["field"] == "email"
    assert summary["rows"][1]["status"] == "created"


async def test_another_owners_contacts_are_never_matched(client, owner, other_owner):
    theirs = await imported(client, other_owner, fixture("linkedin_connections.csv"))
    mine = await imported(client, owner, fixture("linkedin_connections.csv"))
    assert mine["created"] == theirs["created"] == 5
    assert {r["contact_id"] for r in mine["rows"]}.isdisjoint(
        {r["contact_id"] for r in theirs["rows"] if r["contact_id"]}
    )


async def test_another_owners_contact_ids_in_a_vcard_are_not_matched(client, owner, other_owner):
    theirs = await imported(client, other_owner, fixture("google_contacts.vcf"))
    exported = await client.get("/v1/export.vcf", headers=other_owner.headers)
    assert b"X-GOODWILL-ID:" in exported.content
    summary = await imported(client, owner, exported.content, format="vcard")
    assert summary["created"] == 2
    assert {r["contact_id"] for r in summary["rows"]}.isdisjoint(
        {r["contact_id"] for r in theirs["rows"]}
    )


async def test_multipart_upload(client, owner):
    response = await client.post(
        "/v1/imports",
        files={"file": ("contacts.vcf", fixture("google_contacts.vcf"), "text/vcard")},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    missing = await client.post(
        "/v1/imports", files={"other": ("x.csv", b"a")}, headers=owner.headers
    )
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "file", "message": "missing"}]


async def test_a_file_in_any_content_type_is_taken_but_not_an_unknown_parameter(client, owner):
    """The file is the body whatever its type (or none): the import takes no JSON, so no
    415; but its query string is held to what it declares, as everywhere."""
    for content_type in (None, "text/vcard", "application/octet-stream", "text/plain"):
        headers = {**owner.headers, **({"Content-Type": content_type} if content_type else {})}
        response = await client.post(
            "/v1/imports",
            content=fixture("google_contacts.vcf"),
            params={"dry_run": "true"},
            headers=headers,
        )
        assert response.status_code == 200, (content_type, response.text)
    for params in ({"dryrun": "true"}, [("format", "vcard"), ("format", "vcard")]):
        refused = await client.post(
            "/v1/imports",
            content=fixture("google_contacts.vcf"),
            params=params,
            headers={**owner.headers, "Content-Type": "text/vcard"},
        )
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert await all_contacts(client, owner) == []


async def test_unknown_format_and_empty_file_are_422(client, owner):
    for content in (b"", b"just,some\ncsv,data\n"):
        response = await upload(client, owner, content)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "file"
    wrong = await upload(client, owner, fixture("google_contacts.csv"), format="linkedin_csv")
    assert wrong.status_code == 422


async def test_read_only_key_cannot_import(client, owner):
    response = await client.post(
        "/v1/imports", content=fixture("google_contacts.vcf"), headers=owner.read_headers
    )
    assert response.status_code == 403


async def test_idempotency_key_replays_the_summary(client, owner):
    headers = {**owner.headers, "Idempotency-Key": "import-1"}
    first = await client.post(
        "/v1/imports", content=fixture("linkedin_connections.csv"), headers=headers
    )
    second = await client.post(
        "/v1/imports", content=fixture("linkedin_connections.csv"), headers=headers
    )
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.json()["created"] == 5
    assert second.headers["idempotent-replayed"] == "true"
    assert len(await all_contacts(client, owner)) == 5
    other = await client.post(
        "/v1/imports", content=fixture("google_contacts.vcf"), headers=headers
    )
    assert other.status_code == 422


async def test_bodies_up_to_20_mib_on_imports_but_1_mib_elsewhere(client, owner):
    big = b"x" * (2 * 1024 * 1024)
    accepted = await upload(client, owner, big)
    assert accepted.status_code == 422  # read whole, then found not to be an export
    too_big = await upload(client, owner, b"x" * (20 * 1024 * 1024 + 1))
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    elsewhere = await client.post(
        "/v1/contacts",
        content=big,
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert elsewhere.status_code == 413


async def test_a_streamed_body_over_20_mib_is_413(client, owner):
    async def chunks():
        for _ in range(21):
            yield b"x" * (1024 * 1024)

    response = await client.post(
        "/v1/imports", content=chunks(), headers={**owner.headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 413


async def test_too_many_records_in_one_request_is_413(client, owner, monkeypatch):
    monkeypatch.setattr(service, "MAX_RECORDS", 3)
    response = await upload(client, owner, fixture("linkedin_connections.csv"))
    assert response.status_code == 413
    assert response.json()["type"].endswith("/too-many-records")
    assert "goodwill import" in response.json()["detail"]
    assert await all_contacts(client, owner) == []


async def test_an_erased_contact_is_never_matched_again(client, owner):
    first = await imported(client, owner, fixture("linkedin_connections.csv"))
    ada_id = first["rows"][0]["contact_id"]
    erased = await client.delete(
        f"/v1/contacts/{ada_id}", params={"erase": "true"}, headers=owner.headers
    )
    assert erased.status_code == 204
    again = await imported(client, owner, fixture("linkedin_connections.csv"))
    assert again["rows"][0]["status"] == "created"
    assert again["rows"][0]["contact_id"] != ada_id


async def test_a_record_without_a_name_never_renames_a_contact(client, owner):
    ada = await create_contact(
        client,
        owner,
        display_name="Ada Lovelace",
        channels=[{"type": "email", "value": "ada@example.com"}],
        external_refs={},
    )
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    summary = await imported(client, owner, (header + ",,,ada@example.com,Engines,,\n").encode())
    assert summary["rows"][0]["contact_id"] == ada["id"]
    after = (await client.get(f"/v1/contacts/{ada['id']}", headers=owner.headers)).json()
    assert (after["display_name"], after["organization"]) == ("Ada Lovelace", "Engines")
    # A new person with only an email is named by it.
    other = await imported(client, owner, (header + ",,,grace@example.com,,,\n").encode())
    created = other["rows"][0]["contact_id"]
    named = (await client.get(f"/v1/contacts/{created}", headers=owner.headers)).json()
    assert named["display_name"] == "grace@example.com"


async def test_contacts_of_one_export_stay_apart_in_another_owner(client, owner, other_owner):
    # Two people may share a name, or a switchboard's number, and still be two people.
    for name in ("Sam Lee", "Sam Lee"):
        await create_contact(client, owner, display_name=name, channels=[], external_refs={})
    switchboard = [{"type": "phone", "value": "+44 20 7946 0000"}]
    for name in ("Front Desk", "Back Office"):
        await create_contact(client, owner, display_name=name, channels=switchboard)
    exported = await client.get("/v1/export.vcf", headers=owner.headers)
    summary = await imported(client, other_owner, exported.content, format="vcard")
    assert (summary["created"], summary["updated"]) == (4, 0)
    # Again: nothing is created twice, and nothing merged (the name and number are ambiguous).
    again = await imported(client, other_owner, exported.content, format="vcard")
    assert again["updated"] == again["created"] == 0


@pytest.mark.parametrize("fmt", ["linkedin_csv", "google_csv", None])
async def test_a_cell_too_long_for_the_csv_reader_is_a_problem_not_a_500(client, owner, fmt):
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
    huge = '"' + "x" * 140_000 + '"\r\n'
    for body in (huge + header, header + "Ada,Lovelace,,,,,\r\n" + huge):
        response = await upload(client, owner, body.encode(), **({"format": fmt} if fmt else {}))
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            assert response.headers["content-type"] == "application/problem+json"
        else:
            rows = response.json()["rows"]
            assert rows[-1]["errors"][0]["message"].startswith("line 3: a cell is longer")
