"""Erasure, checked where it has to hold: in everything the database keeps afterwards.

These tests commit for real, on a database of their own, and then read all of it: a
`pg_dump` on PostgreSQL, `iterdump` on SQLite. The usual rolled-back outer transaction
(tests/conftest.py) would hide the rows from any such reader.

What erasure promises (API.md: "its personal data is gone from events too; only anonymous
ledger totals remain") covers every row that refers to the person, and everything derived
from an introduction they were part of: its texts, the notes on the deposits it wrote
(whoever they were credited to), reversals of those, their change-feed events, stored
idempotent responses and webhook deliveries. It does not cover what the owner typed about
someone else that happens to name the person: nothing links such text to them, and guessing
by substring would destroy other people's data.
"""

import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.core.migrations import upgrade
from app.events.worker import Worker, new_client
from app.main import create_app
from tests.events.receiver import Receiver, StaticResolver
from tests.factories import Actor, contact_body, make_actor

EMAIL = "theodora.quillfeather@zq-erasure.example"
PHONE = "+44 20 7946 0321"
# Every personal value of the target holds one of these; the dump is searched for them,
# case-insensitively. The phone number also as the E.164 key `contact_identifier` keeps.
NEEDLES = ["quillfeather", "theodora", "zq-target", "7946 0321", "+442079460321"]

TARGET = contact_body(
    display_name="Theodora Quillfeather",
    given_name="Theodora",
    family_name="Quillfeather",
    organization="Quillfeather Instruments zq-target",
    title="zq-target chief navigator",
    notes="zq-target notes: prefers early calls",
    tags=["zq-target-tag"],
    channels=[
        {"type": "email", "value": EMAIL, "permitted_uses": ["introductions"]},
        {"type": "phone", "value": PHONE, "permitted_uses": ["personal"]},
    ],
    external_refs={"crm": "zq-target-ref-7731"},
)
REQUESTER = contact_body(
    display_name="Rita Zqrequester",
    given_name="Rita",
    family_name="Zqrequester",
    channels=[{"type": "email", "value": "rita@zq-requester.example", "permitted_uses": []}],
    external_refs={"crm": "zq-requester-ref"},
)
# The requester's own entry, about nobody else: it must survive the target's erasure.
REQUESTER_NOTE = "zq-requester own favour"


def _database_dump(url: str) -> str:
    """Every row of every table, as text."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return "\n".join(conn.iterdump())
    pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    result = subprocess.run(  # noqa: S603
        [pg_dump, "--no-owner", "--dbname", dsn],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def _found(text: str) -> list[str]:
    lowered = text.lower()
    return [needle for needle in NEEDLES if needle in lowered]


@pytest.fixture
def committed_url(fresh_database_url) -> Iterator[str]:  # type: ignore[no-untyped-def]
    url = fresh_database_url("erasure")
    upgrade(url)
    yield url


@pytest.fixture
async def committed_app(
    committed_url: str, settings: Settings, engine: object
) -> AsyncIterator[FastAPI]:
    """The app on its own database, committing for real (no outer transaction), with the
    suite's settings otherwise. `engine` loads the process's signing secret (for cursors),
    as the app's lifespan would: one per process, whichever database it came from."""
    app = create_app(settings.model_copy(update={"database_url": committed_url}))
    app.state.resolver = StaticResolver()
    try:
        yield app
    finally:
        await app.state.engine.dispose()


class Api:
    def __init__(self, client: httpx.AsyncClient, actor: Actor) -> None:
        self.client, self.actor = client, actor

    async def call(
        self, method: str, path: str, body: Any = None, key: str | None = None, **params: Any
    ) -> httpx.Response:
        headers = dict(self.actor.headers)
        if key:
            headers["Idempotency-Key"] = key
        return await self.client.request(method, path, json=body, params=params, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        response = await self.call(method, path, body, key)
        assert response.is_success, (path, response.text)
        return response.json() if response.content else None

    async def every(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """All pages of a list; the change feed always answers a cursor to poll from, so it
        ends at its first empty page."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
            response = await self.call("GET", path, **query)
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["data"]
            cursor = page["next_cursor"]
            if cursor is None or not page["data"]:
                return items


async def _introduce(api: Api, requester_id: str, target_id: str, n: int) -> dict[str, Any]:
    """An introduction taken to `made`, every text in it about the target."""
    intro = await api.ok(
        "POST",
        "/v1/introductions",
        {
            "requester_id": requester_id,
            "target_id": target_id,
            "reason": f"Rita wants to meet Theodora Quillfeather ({EMAIL}), round {n}",
            "benefit_to_target": "Theodora Quillfeather gets a zq-target early look",
            "offer": f"Rita will write to {EMAIL} first",
        },
        key=f"intro-{n}",
    )
    await api.ok("POST", f"/v1/introductions/{intro['id']}/consent-request", {})
    await api.ok(
        "POST",
        f"/v1/introductions/{intro['id']}/consent",
        {"decision": "accept", "evidence": f"{EMAIL} said yes by email"},
    )
    await api.ok(
        "POST",
        f"/v1/introductions/{intro['id']}/make",
        {"note": f"Introduced Rita to Theodora Quillfeather at {EMAIL}"},
        key=f"make-{n}",
    )
    return intro


async def test_erasure_leaves_nothing_of_the_person_in_the_database(
    committed_app: FastAPI, committed_url: str
) -> None:
    app = committed_app
    owner = await make_actor(app, "erasure")
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        Receiver() as receiver,
    ):
        api = Api(client, owner)
        worker = Worker(
            app.state.settings,
            app.state.sessionmaker,
            new_client(app.state.settings),
            app.state.resolver,
        )
        await api.ok("POST", "/v1/webhooks", {"url": receiver.url, "events": ["*"]})

        requester = await api.ok("POST", "/v1/contacts", REQUESTER, key="create-requester")
        target = await api.ok("POST", "/v1/contacts", TARGET, key="create-target")
        rid, tid = requester["id"], target["id"]
        await api.ok("PATCH", f"/v1/contacts/{tid}", {"notes": "zq-target notes, second thoughts"})
        await api.ok(
            "POST",
            f"/v1/contacts/{tid}/interactions",
            {"kind": "coffee", "summary": "zq-target coffee with Theodora"},
            key="coffee",
        )
        await api.ok(
            "POST",
            "/v1/ledger",
            {
                "contact_id": tid,
                "direction": "received",
                "kind": "advice",
                "weight": 1,
                "note": "zq-target advice from Theodora",
            },
        )
        await api.ok(
            "POST",
            "/v1/ledger",
            {
                "contact_id": rid,
                "direction": "gave",
                "kind": "time",
                "weight": 2,
                "note": REQUESTER_NOTE,
            },
        )
        # Delivered before the erasure: their attempts are in the database too.
        async with worker.client:
            await worker.drain()

            # The first introduction completes, with feedback from both sides; the second is
            # made and its deposit reversed, the reversal's note naming the target again.
            first = await _introduce(api, rid, tid, 1)
            await api.ok(
                "POST",
                f"/v1/introductions/{first['id']}/feedback",
                {"from": "requester", "outcome": "connected", "note": f"Wrote to {EMAIL}"},
            )
            await api.ok(
                "POST",
                f"/v1/introductions/{first['id']}/feedback",
                {"from": "target", "outcome": "valuable", "note": "zq-target: Theodora loved it"},
                key="feedback-target",
            )
            second = await _introduce(api, rid, tid, 2)
            [deposit] = [
                e
                for e in await api.every("/v1/ledger", contact_id=rid)
                if e["introduction_id"] == second["id"]
            ]
            await api.ok(
                "POST",
                f"/v1/ledger/{deposit['id']}/reversal",
                {"note": f"Made twice by mistake; {EMAIL} only met Rita once"},
                key="reversal",
            )
            balance = await api.ok("GET", f"/v1/contacts/{rid}/reciprocity")
            assert _found(_database_dump(committed_url))  # the search can find them

            sent_before = len(receiver.requests)
            erased = await api.call("DELETE", f"/v1/contacts/{tid}", erase="true")
            assert erased.status_code == 204, erased.text
            # The rest is delivered after the erasure, so it must go out scrubbed.
            await worker.drain()

        # Every row of every table.
        dump = _database_dump(committed_url)
        left = [(line[:40], _found(line)) for line in dump.splitlines() if _found(line)]
        assert left == []
        # The requester keeps their goodwill, and what they were given that was not about
        # the target.
        assert REQUESTER_NOTE in dump and "Zqrequester" in dump
        assert await api.ok("GET", f"/v1/contacts/{rid}/reciprocity") == balance
        entries = await api.every("/v1/ledger", contact_id=rid)
        assert sorted((e["kind"], e["weight"], e["note"]) for e in entries) == [
            ("introduction", -3, None),
            ("introduction", 3, None),
            ("introduction", 3, None),
            ("time", 2, REQUESTER_NOTE),
        ]
        # What clients can still read or be sent.
        feed = await api.every("/v1/events")
        assert {"ledger_entry.created", "contact.erased"} <= {e["type"] for e in feed}
        assert _found(str(feed)) == []
        sent_after = receiver.requests[sent_before:]
        assert {"ledger_entry.created", "introduction.made"} <= {
            orjson.loads(r.body)["type"] for r in sent_after
        }
        assert [r.body for r in sent_after if _found(r.body.decode())] == []
        # A retry of the make is answered from its stored response, which is gone too.
        replay = await api.call(
            "POST",
            f"/v1/introductions/{second['id']}/make",
            {"note": f"Introduced Rita to Theodora Quillfeather at {EMAIL}"},
            key="make-2",
        )
        assert replay.status_code == 410 and _found(replay.text) == []


async def test_erasing_the_requester_keeps_the_targets_deposit_without_its_note(client, owner):
    """The other way round: the deposit a valuable outcome credits to the target stays
    theirs, but its note (the feedback, about the requester) goes, in the feed too."""
    api = Api(client, owner)
    requester = await api.ok("POST", "/v1/contacts", REQUESTER)
    target = await api.ok("POST", "/v1/contacts", TARGET)
    intro = await _introduce(api, requester["id"], target["id"], 1)
    await api.ok(
        "POST",
        f"/v1/introductions/{intro['id']}/feedback",
        {"from": "target", "outcome": "valuable", "note": "Rita Zqrequester was a great fit"},
    )
    balance = await api.ok("GET", f"/v1/contacts/{target['id']}/reciprocity")

    erased = await api.call("DELETE", f"/v1/contacts/{requester['id']}", erase="true")
    assert erased.status_code == 204, erased.text

    [entry] = await api.every("/v1/ledger", contact_id=target["id"])
    assert (entry["weight"], entry["introduction_id"], entry["note"]) == (3, intro["id"], None)
    assert await api.ok("GET", f"/v1/contacts/{target['id']}/reciprocity") == balance
    [event] = [e for e in await api.every("/v1/events") if e["resource_id"] == entry["id"]]
    assert event["data"] == {**entry, "note": None}
    assert "Zqrequester" not in str(await api.every("/v1/events"))
