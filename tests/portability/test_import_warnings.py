"""A bad value in an imported record loses that value, never the person: the row is
imported with the problem in its `errors`; only a record without a usable name is rejected.
And LinkedIn's "Connected On" becomes the contact's `connected_at`."""

from datetime import UTC, datetime, timedelta

from tests.portability.test_imports import all_contacts, events, imported

LINKEDIN = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"


def contact_of(summary: dict, contacts: list[dict], row: int) -> dict:
    (result,) = [r for r in summary["rows"] if r["row"] == row]
    return next(c for c in contacts if c["id"] == result["contact_id"])


async def test_a_bad_email_is_left_out_and_the_person_imported(client, owner):
    body = LINKEDIN + "Chidi,Okafor,,chidi@@example,Paystack,Engineer,05 May 2021\n"
    body += ",,,not-an-email,,,\n"  # no name, and the address is none either
    before = await events(client, owner)
    for dry_run in (True, False):
        summary = await imported(client, owner, body.encode(), dry_run=dry_run)
        assert (summary["created"], summary["rejected"]) == (1, 1)
        chidi, nobody = summary["rows"]
        assert chidi["status"] == "created"
        assert [e["field"] for e in chidi["errors"]] == ["Email Address"]
        assert chidi["errors"][0]["message"].startswith("not a valid email address")
        assert (nobody["status"], nobody["contact_id"]) == ("rejected", None)
        assert {e["field"] for e in nobody["errors"]} == {"Email Address", "First Name"}
        if dry_run:
            assert chidi["contact_id"] is None
            assert await all_contacts(client, owner) == []
            assert await events(client, owner) == before
    (contact,) = await all_contacts(client, owner)
    assert contact["id"] == chidi["contact_id"]
    assert (contact["display_name"], contact["organization"]) == ("Chidi Okafor", "Paystack")
    assert contact["channels"] == []
    assert contact["connected_at"] == "2021-05-05T00:00:00Z"


async def test_connected_on_fills_connected_at_and_the_due_date(client, owner):
    body = LINKEDIN
    body += "Ada,Lovelace,https://www.linkedin.com/in/ada,,,,12 Mar 2021\n"
    body += "Grace,Hopper,https://www.linkedin.com/in/grace,,,,03/12/2021\n"
    body += "Mei,Chen,https://www.linkedin.com/in/mei,,,,2021-03-12\n"
    body += "Alan,Turing,https://www.linkedin.com/in/alan,,,,\n"
    body += "Katherine,Johnson,https://www.linkedin.com/in/kj,,,,the Ides of March\n"
    summary = await imported(client, owner, body.encode())
    assert summary["created"] == 5
    contacts = await all_contacts(client, owner)
    march_12 = "2021-03-12T00:00:00Z"
    for row in (1, 2, 3):
        assert contact_of(summary, contacts, row)["connected_at"] == march_12
        assert summary["rows"][row - 1]["errors"] == []
    assert contact_of(summary, contacts, 4)["connected_at"] is None
    assert summary["rows"][4]["errors"] == [
        {"field": "Connected On", "message": "not a date such as 12 Mar 2021"}
    ]
    katherine = contact_of(summary, contacts, 5)
    assert katherine["connected_at"] is None
    assert katherine["display_name"] == "Katherine Johnson"

    # With a cadence, a contact never met is due one cadence after connecting.
    ada = contact_of(summary, contacts, 1)
    response = await client.patch(
        f"/v1/contacts/{ada['id']}", json={"cadence_days": 30}, headers=owner.headers
    )
    assert response.json()["next_touch_due_at"] == "2021-04-11T00:00:00Z"


async def test_a_later_linkedin_import_fills_connected_at_of_a_known_contact(client, owner):
    created = await client.post(
        "/v1/contacts",
        json={
            "display_name": "Ada Lovelace",
            "channels": [{"type": "email", "value": "ada@example.com"}],
        },
        headers=owner.headers,
    )
    assert created.status_code == 201
    body = LINKEDIN + "Ada,Lovelace,,ada@example.com,,,10 Dec 2023\n"
    summary = await imported(client, owner, body.encode())
    assert [r["status"] for r in summary["rows"]] == ["updated"]
    read = await client.get(f"/v1/contacts/{created.json()['id']}", headers=owner.headers)
    assert read.json()["connected_at"] == "2023-12-10T00:00:00Z"
    # The same file again changes nothing.
    again = await imported(client, owner, body.encode())
    assert [r["status"] for r in again["rows"]] == ["unchanged"]


async def test_a_connection_in_the_future_is_left_out(client, owner):
    ahead = (datetime.now(UTC) + timedelta(days=3)).strftime("%d %b %Y")
    summary = await imported(client, owner, (LINKEDIN + f"Ada,Lovelace,,,,,{ahead}\n").encode())
    (row,) = summary["rows"]
    assert row["status"] == "created"
    assert row["errors"] == [{"field": "connected_at", "message": "must not be in the future"}]
    (contact,) = await all_contacts(client, owner)
    assert contact["connected_at"] is None


async def test_bad_values_of_a_card_are_left_out_one_by_one(client, owner):
    card = "\r\n".join(
        [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "FN:Jürgen Müller",
            "TITLE:" + "t" * 250,
            "TZ:Mars/Olympus",
            "EMAIL:juergen@example.com",
            "EMAIL:juergen@@example",
            "TEL:+49 89 636 00",
            "TEL:12",
            "CATEGORIES:Investors," + "x" * 80,
            "END:VCARD",
            "",
        ]
    )
    summary = await imported(client, owner, card.encode(), format="vcard")
    (row,) = summary["rows"]
    assert row["status"] == "created"
    assert {e["field"] for e in row["errors"]} == {"EMAIL", "TEL", "title", "timezone", "tags[1]"}
    (contact,) = await all_contacts(client, owner)
    assert contact["display_name"] == "Jürgen Müller"
    assert (contact["title"], contact["timezone"]) == (None, None)
    assert contact["tags"] == ["Investors"]
    assert {(c["type"], c["value"]) for c in contact["channels"]} == {
        ("email", "juergen@example.com"),
        ("phone", "+498963600"),
    }


async def test_a_name_that_cannot_be_used_rejects_the_record(client, owner):
    body = LINKEDIN + f"{'A' * 150},{'B' * 150},,ok@example.com,,,\nGrace,Hopper,,,,,\n"
    summary = await imported(client, owner, body.encode())
    too_long, grace = summary["rows"]
    assert too_long["status"] == "rejected"
    assert "display_name" in {e["field"] for e in too_long["errors"]}
    assert grace["status"] == "created"
    assert [c["display_name"] for c in await all_contacts(client, owner)] == ["Grace Hopper"]


async def test_a_nul_in_a_value_leaves_out_only_that_value(client, owner):
    body = LINKEDIN + "Ada,Lovelace,,,Analytical\x00Engines,Countess,\n"
    summary = await imported(client, owner, body.encode())
    (row,) = summary["rows"]
    assert row["status"] == "created"
    assert row["errors"] == [
        {"field": "organization", "message": "text must not contain the NUL character"}
    ]
    (contact,) = await all_contacts(client, owner)
    assert (contact["organization"], contact["title"]) == (None, "Countess")


async def test_connected_at_travels_in_the_vcard_export(client, owner, other_owner):
    await imported(client, owner, (LINKEDIN + "Ada,Lovelace,,,,,12 Mar 2021\n").encode())
    exported = await client.get("/v1/export.vcf", headers=owner.headers)
    assert b"X-GOODWILL-CONNECTED-AT:2021-03-12T00:00:00Z" in exported.content
    again = await imported(client, owner, exported.content, format="vcard")
    assert [r["status"] for r in again["rows"]] == ["unchanged"]
    copied = await imported(client, other_owner, exported.content, format="vcard")
    assert [r["status"] for r in copied["rows"]] == ["created"]
    (contact,) = await all_contacts(client, other_owner)
    assert contact["connected_at"] == "2021-03-12T00:00:00Z"
