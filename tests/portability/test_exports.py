"""GET /v1/export and GET /v1/export.vcf: contents, round trip, streaming, the snapshot."""

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from app.core.db import create_sessionmaker
from app.portability import export
from app.portability.schemas import ExportDocument
from tests.factories import create_contact, create_pair

FIXTURES = Path(__file__).parent / "fixtures"


async def post(client, actor, path: str, body: dict) -> dict:
    response = await client.post(path, json=body, headers=actor.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_export_holds_everything_the_owner_has(client, owner, other_owner):
    ada = await create_contact(client, owner)
    await create_contact(client, other_owner, display_name="Not Mine")
    archived = await create_contact(client, owner, display_name="Gone Quiet", external_refs={})
    await client.delete(f"/v1/contacts/{archived['id']}", headers=owner.headers)
    await post(client, owner, f"/v1/contacts/{ada['id']}/interactions", {"kind": "call"})
    entry = {"contact_id": ada["id"], "direction": "gave", "kind": "advice", "weight": 2}
    given = await post(client, owner, "/v1/ledger", entry)
    await post(client, owner, f"/v1/ledger/{given['id']}/reversal", {"note": "mistake"})
    requester, target = await create_pair(client, owner)
    intro = await post(
        client,
        owner,
        "/v1/introductions",
        {
            "requester_id": requester["id"],
            "target_id": target["id"],
            "reason": "Advice on a seed round.",
            "benefit_to_target": "An early look.",
        },
    )
    await post(
        client,
        owner,
        f"/v1/introductions/{intro['id']}/consent",
        {"decision": "accept", "evidence": "Said yes on the phone."},
    )
    await client.patch("/v1/settings", json={"reciprocity_ratio": 5}, headers=owner.headers)

    response = await client.get("/v1/export", headers=owner.read_headers)  # `read` is enough
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "attachment" in response.headers["content-disposition"]
    document = ExportDocument.model_validate_json(response.content)
    assert document.owner.id == owner.owner_id
    assert document.settings.reciprocity_ratio == 5
    assert {c.display_name for c in document.contacts} == {
        "Ada Lovelace",
        "Gone Quiet",
        "Rita Requester",
        "Theo Target",
    }
    assert next(c for c in document.contacts if c.id == archived["id"]).archived_at is not None
    exported_ada = next(c for c in document.contacts if c.id == ada["id"])
    assert exported_ada.model_dump(mode="json", exclude={"reciprocity", "updated_at"}) == {
        k: v
        for k, v in (await client.get(f"/v1/contacts/{ada['id']}", headers=owner.headers))
        .json()
        .items()
        if k not in ("reciprocity", "updated_at")
    }
    assert [i.kind for i in document.interactions] == ["call"]
    assert len(document.ledger_entries) == 2
    original = next(e for e in document.ledger_entries if e.id == given["id"])
    assert original.reversed_by_id is not None
    (exported_intro,) = document.introductions
    assert exported_intro.state == "consented"
    assert [e.to_state for e in exported_intro.timeline] == ["requested", "consented"]
    raw = json.loads(response.content)
    assert list(raw) == list(ExportDocument.model_fields)  # streamed in the documented order
    assert {k for key in raw["api_keys"] for k in key} == {
        "id",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "revoked_at",
    }
    assert owner.api_key not in response.text


async def test_an_empty_network_exports_empty_lists(client, owner):
    response = await client.get("/v1/export", headers=owner.headers)
    document = json.loads(response.content)
    assert document["contacts"] == document["ledger_entries"] == document["introductions"] == []


async def test_vcard_export_reimports_as_the_same_contacts_unchanged(client, owner):
    for name in sorted(p.name for p in FIXTURES.iterdir()):
        await client.post(
            "/v1/imports", content=(FIXTURES / name).read_bytes(), headers=owner.headers
        )
    await create_contact(client, owner)  # one made through the API, with a CRM ref
    await create_contact(
        client,
        owner,
        display_name="Odd; Name, with \\ escapes",
        notes="Line one\nLine two; with, punctuation",
        tags=["a,b", "c;d"],
        channels=[
            {"type": "twitter", "value": "@odd"},
            {"type": "other", "value": "Signal: +44 7700 900123"},
            {"type": "website", "value": "https://odd.example/a?b=c"},
        ],
        external_refs={"crm": "id,with;odd:chars"},
    )
    contacts = (
        await client.get("/v1/contacts", params={"limit": 200}, headers=owner.headers)
    ).json()["data"]
    vcf = await client.get("/v1/export.vcf", headers=owner.read_headers)
    assert vcf.status_code == 200
    assert vcf.headers["content-type"].startswith("text/vcard")
    assert vcf.text.count("BEGIN:VCARD") == len(contacts)
    assert all(len(line.encode()) <= 75 for line in vcf.text.split("\r\n"))
    again = await client.post(
        "/v1/imports", content=vcf.content, params={"format": "vcard"}, headers=owner.headers
    )
    summary = again.json()
    assert summary["unchanged"] == len(contacts), [r for r in summary["rows"] if r["errors"]]
    assert summary["created"] == summary["updated"] == summary["rejected"] == 0
    assert {r["contact_id"] for r in summary["rows"]} == {c["id"] for c in contacts}


async def _asgi_get(app, path: str, api_key: str) -> tuple[dict, list[bytes]]:
    """Call the app as a server would, recording each body message it sends."""
    start: dict = {}
    bodies: list[bytes] = []
    requested = False
    done = asyncio.Event()

    async def receive() -> dict:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            bodies.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"authorization", f"Bearer {api_key}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    return start, bodies


async def test_exports_are_streamed_a_page_at_a_time(app, client, owner, monkeypatch):
    monkeypatch.setattr(export, "PAGE", 10)
    cards = "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {n}\r\nEMAIL:p{n}@example.com\r\nEND:VCARD\r\n"
        for n in range(95)
    )
    imported = await client.post("/v1/imports", content=cards.encode(), headers=owner.headers)
    assert imported.json()["created"] == 95
    for path in ("/v1/export", "/v1/export.vcf"):
        start, bodies = await _asgi_get(app, path, owner.api_key)
        assert start["status"] == 200
        assert b"content-length" not in dict(start["headers"])
        chunks = [b for b in bodies if b]
        # 10 pages of contacts, each sent on its own; no chunk holds much more than a page.
        assert len(chunks) >= 10
        assert max(len(c) for c in chunks) < 4 * len(b"".join(chunks)) / 10
        whole = b"".join(chunks)
        if path == "/v1/export":
            assert len(json.loads(whole)["contacts"]) == 95
        else:
            assert whole.count(b"BEGIN:VCARD") == 95


@pytest.mark.postgres
async def test_the_export_reads_one_read_only_repeatable_read_snapshot(engine):
    async with export.snapshot(create_sessionmaker(engine)) as session:
        isolation = (await session.exec(text("SHOW transaction_isolation"))).one()[0]
        read_only = (await session.exec(text("SHOW transaction_read_only"))).one()[0]
    assert (isolation, read_only) == ("repeatable read", "on")
