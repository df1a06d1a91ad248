"""Needs and offers through exports and imports: vCards carry them (one X-GOODWILL-NEED or
X-GOODWILL-OFFER a phrase), other formats leave them empty, and an import adds to a
contact's phrases without removing or repeating one."""

from pathlib import Path

from sqlmodel import select

from app.contacts.models import ContactPhrase
from tests.factories import create_contact

FIXTURES = Path(__file__).parent / "fixtures"


async def upload(client, actor, content: bytes, fmt: str) -> dict:
    response = await client.post(
        "/v1/imports", content=content, params={"format": fmt}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def read(client, actor, contact_id: str) -> dict:
    response = await client.get(f"/v1/contacts/{contact_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def phrases(app, owner_id: str) -> set[tuple[str, str]]:
    async with app.state.sessionmaker() as session:
        rows = await session.exec(
            select(ContactPhrase.kind, ContactPhrase.phrase).where(
                ContactPhrase.owner_id == owner_id
            )
        )
        return set(rows.all())


async def test_a_vcard_export_carries_them_to_another_owner(app, client, owner, other_owner):
    ada = await create_contact(
        client,
        owner,
        channels=[],
        external_refs={},
        needs=["Seed funding", "A CTO; part-time, remote"],
        offers=["Intros to CFOs"],
    )
    vcf = await client.get("/v1/export.vcf", headers=owner.headers)
    text = vcf.content.decode()
    assert "X-GOODWILL-NEED:Seed funding\r\n" in text
    assert "X-GOODWILL-NEED:A CTO\\; part-time\\, remote\r\n" in text
    assert "X-GOODWILL-OFFER:Intros to CFOs\r\n" in text

    summary = await upload(client, other_owner, vcf.content, "vcard")
    assert summary["created"] == 1
    copy = await read(client, other_owner, summary["rows"][0]["contact_id"])
    assert (copy["needs"], copy["offers"]) == (ada["needs"], ada["offers"])
    assert await phrases(app, other_owner.owner_id) == {
        ("need", "seed funding"),
        ("need", "a cto; part-time, remote"),
        ("offer", "intros to cfos"),
    }
    # Into its own owner again: the same contact, unchanged.
    again = await upload(client, owner, vcf.content, "vcard")
    assert again["unchanged"] == 1
    assert await read(client, owner, ada["id"]) == ada


async def test_an_import_adds_phrases_the_contact_lacks(app, client, owner):
    ada = await create_contact(
        client,
        owner,
        channels=[{"type": "email", "value": "ada@example.com"}],
        external_refs={},
        needs=["Seed funding"],
    )
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEMAIL:ada@example.com\r\n"
        "X-GOODWILL-NEED: seed  FUNDING \r\nX-GOODWILL-NEED:Hiring\r\nX-GOODWILL-NEED: \r\n"
        "X-GOODWILL-OFFER:Advice\r\nEND:VCARD\r\n"
    )
    summary = await upload(client, owner, card.encode(), "vcard")
    assert summary["updated"] == 1, summary
    after = await read(client, owner, ada["id"])
    # Nothing removed; a phrase it has in another case or spacing is not added again.
    assert (after["needs"], after["offers"]) == (["Seed funding", "Hiring"], ["Advice"])
    assert await phrases(app, owner.owner_id) == {
        ("need", "seed funding"),
        ("need", "hiring"),
        ("offer", "advice"),
    }


async def test_csv_imports_leave_them_empty(app, client, owner):
    content = (FIXTURES / "linkedin_connections.csv").read_bytes()
    summary = await upload(client, owner, content, "linkedin_csv")
    assert summary["created"] > 0
    for row in summary["rows"]:
        if row["contact_id"]:
            contact = await read(client, owner, row["contact_id"])
            assert (contact["needs"], contact["offers"]) == ([], [])
    assert await phrases(app, owner.owner_id) == set()
