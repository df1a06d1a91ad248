"""The hot reads run their statements straight on the driver's connection
(app/core/reads.py). Clients must not be able to tell: the rows are the ones SQLAlchemy
would have returned, and the pool stays healthy whatever a statement or a connection does.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import literal_column, select

from app.contacts import listing
from app.contacts import service as contacts
from app.contacts.schemas import ContactSort
from app.contacts.search import escape_like, fold
from app.core.config import Settings
from app.core.db import create_engine
from app.core.migrations import upgrade
from app.core.reads import Reader
from app.ledger import service as ledger
from app.main import create_app
from tests.factories import Actor, contact_body, make_actor

SORTS = [ContactSort.created_at, ContactSort.goodwill_desc, ContactSort.last_interaction_at]


async def _network(client: httpx.AsyncClient, owner: Actor) -> list[str]:
    """Contacts with every kind of value a row can hold: nulls, unicode, JSON, timestamps
    with and without microseconds, ledger totals, a due date."""
    bodies = [
        contact_body(),
        contact_body(
            display_name='Zoë 🌱 "quoted"',
            given_name=None,
            title=None,
            timezone=None,
            cadence_days=None,
            tags=[],
            channels=[],
            external_refs={},
            notes="\u2028 / \\",
        ),
        contact_body(display_name="Ümit", external_refs={"salesforce": "003"}, cadence_days=1),
    ]
    ids = []
    for body in bodies:
        response = await client.post("/v1/contacts", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for contact_id, moment in [
        (ids[0], datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        (ids[2], datetime.now(UTC) - timedelta(days=3, microseconds=123457)),
    ]:
        meeting = {"kind": "call", "occurred_at": moment.isoformat()}
        response = await client.post(
            f"/v1/contacts/{contact_id}/interactions", json=meeting, headers=owner.headers
        )
        assert response.status_code == 201, response.text
    entry = {"contact_id": ids[2], "direction": "received", "kind": "advice", "weight": 2}
    assert (await client.post("/v1/ledger", json=entry, headers=owner.headers)).status_code == 201
    return ids


def _shape(sort: ContactSort = ContactSort.created_at, q: bool = False) -> listing._Shape:
    """The statement shape of a plain list of contacts: no filter but `q` if asked."""
    return listing._Shape(
        sort=sort,
        q=q,
        tags=0,
        trust_stage=False,
        updated_since=False,
        stale=None,
        channel_use=False,
        external_ref=False,
        archived=False,
        flags=frozenset(),
        after=False,
    )


def _cases(owner_id: str, ids: list[str]) -> list[tuple[Any, dict[str, Any]]]:
    cases: list[tuple[Any, dict[str, Any]]] = []
    for contact_id in [*ids, "ct_missing"]:
        params = {"owner_id": owner_id, "contact_id": contact_id}
        cases += [(contacts._READ_CONTACT, params), (ledger._READ_BALANCE, params)]
    for sort in SORTS:
        shape = _shape(sort=sort)
        params = {"owner_id": owner_id, "limit": 10, "now": datetime.now(UTC)}
        cases.append((listing._statement(shape), params))
    return cases


async def test_rows_are_the_values_sqlalchemy_returns(
    client: httpx.AsyncClient, owner: Actor, app: FastAPI
) -> None:
    ids = await _network(client, owner)
    bind = app.state.sessionmaker.kw["bind"]  # the test's connection
    reader = Reader(bind)
    sizes = set()
    for statement, params in _cases(owner.owner_id, ids):
        fast = [dict(row) for row in await reader.rows(statement, params)]
        core = [dict(row._mapping) for row in await bind.execute(statement, params)]
        assert fast == core
        for fast_row, core_row in zip(fast, core, strict=True):
            for name, value in fast_row.items():
                assert type(value) is type(core_row[name]), name
                if isinstance(value, datetime):
                    assert value.utcoffset() == timedelta(0), name
        sizes.add(len(fast))
    # Single rows, whole pages and nothing at all were compared.
    assert sizes == {0, 1, 3}


async def test_a_statement_planned_for_its_values_returns_the_same_rows(
    client: httpx.AsyncClient, owner: Actor, app: FastAPI
) -> None:
    """A search is prepared afresh on every run (`plan_for_values`), more than the five runs
    after which PostgreSQL may keep a generic plan; the rows stay SQLAlchemy's."""
    ids = await _network(client, owner)
    bind = app.state.sessionmaker.kw["bind"]
    reader = Reader(bind)
    statement = listing._statement(_shape(q=True))
    found = set()
    for text in ["zo", "ümit", "nobody", "%", "_", "/", '"quoted"'] * 2:
        params = {"owner_id": owner.owner_id, "limit": 10, "now": datetime.now(UTC)}
        params["q"] = escape_like(fold(text))
        fast = [dict(row) for row in await reader.rows(statement, params, plan_for_values=True)]
        core = [dict(row._mapping) for row in await bind.execute(statement, params)]
        assert fast == core
        found.update(row["id"] for row in fast)
    assert found == {ids[1], ids[2]}


@pytest.mark.postgres
async def test_the_pool_survives_refused_statements_and_broken_connections(
    fresh_database_url,  # type: ignore[no-untyped-def]
) -> None:
    url = fresh_database_url("reads")
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(Settings(database_url=url, db_pool_size=1))
    reader = Reader(engine)
    one = select(literal_column("1").label("one"))
    try:
        assert [dict(r) for r in await reader.rows(one, {})] == [{"one": 1}]
        # Refused by the server: the error reaches the caller, the connection is reused.
        with pytest.raises(Exception, match="division by zero"):
            await reader.rows(select(literal_column("1 / 0").label("boom")), {})
        assert [dict(r) for r in await reader.rows(one, {})] == [{"one": 1}]
        # The server drops the pool's only connection: the next read fails, the one after
        # gets a fresh connection instead of the dead one.
        async with engine.connect() as admin:
            raw = await admin.get_raw_connection()
            backend = await raw.driver_connection.fetchval("SELECT pg_backend_pid()")
        async with create_engine(Settings(database_url=url), pooled=False).connect() as other:
            raw = await other.get_raw_connection()
            await raw.driver_connection.execute("SELECT pg_terminate_backend($1)", backend)
        with pytest.raises(Exception):  # noqa: B017 - whichever error the dead socket gives
            await reader.rows(one, {})
        assert [dict(r) for r in await reader.rows(one, {})] == [{"one": 1}]
        assert engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


async def test_a_request_never_holds_two_connections(
    fresh_database_url,  # type: ignore[no-untyped-def]
) -> None:
    """With one connection in the pool and no key cache, every request opens its session
    to look its key up and must then read on that same connection; waiting for a second
    one would stall until the pool's timeout. SQLite's pool is small too (SQLITE_POOL_SIZE)."""
    url = fresh_database_url("one_connection")
    await asyncio.to_thread(upgrade, url)
    app = create_app(
        Settings(
            database_url=url,
            db_pool_size=1,
            auth_cache_seconds=0,
            rate_limit="1000/second",
            allowed_hosts=["test"],
        )
    )
    owner = await make_actor(app, "solo")
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            created = await client.post(
                "/v1/contacts", json={"display_name": "A"}, headers=owner.headers
            )
            contact_id = created.json()["id"]
            paths = [
                f"/v1/contacts/{contact_id}",
                "/v1/contacts?limit=5",
                f"/v1/contacts/{contact_id}/reciprocity",
            ]
            answers = await asyncio.wait_for(
                asyncio.gather(*(client.get(p, headers=owner.headers) for p in paths * 4)),
                timeout=20,
            )
        assert [a.status_code for a in answers] == [200] * len(answers)
        pool = app.state.engine.pool
        assert (pool.size(), pool.checkedout()) == (1, 0)
    finally:
        await app.state.engine.dispose()


@pytest.mark.parametrize("microsecond", [0, 1, 10, 120_000, 123_400, 999_999])
async def test_timestamps_come_back_to_the_microsecond(
    client: httpx.AsyncClient, owner: Actor, microsecond: int
) -> None:
    """PostgreSQL sends timestamps as text, trailing zeros of the fraction dropped
    (`...20.12+00`); they must parse back to the very instant that was stored."""
    created = await client.post("/v1/contacts", json={"display_name": "A"}, headers=owner.headers)
    contact_id = created.json()["id"]
    moment = datetime(2026, 3, 1, 9, 30, 5, microsecond, tzinfo=UTC)
    meeting = {"kind": "call", "occurred_at": moment.isoformat()}
    response = await client.post(
        f"/v1/contacts/{contact_id}/interactions", json=meeting, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    for path, params in [(f"/v1/contacts/{contact_id}", {}), ("/v1/contacts", {"limit": 1})]:
        body = (await client.get(path, params=params, headers=owner.headers)).json()
        contact = body["data"][0] if "data" in body else body
        seen = datetime.fromisoformat(contact["last_interaction_at"].replace("Z", "+00:00"))
        assert seen == moment
