"""A database that cannot be reached answers 503 with Retry-After, never 500 (API.md,
Conventions): whether it refuses connections, drops them, or fails a statement or the
commit, and wherever the request touches it."""

import asyncio
import errno
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.ext.asyncio import AsyncEngine

from app import main as app_main
from app.auth.service import hash_secret
from app.core import signing
from app.core.config import Settings
from app.core.migrations import upgrade
from app.core.principal import Principal
from app.main import create_app
from tests.factories import Actor, contact_body, make_actor
from tests.faults import failing_statements, outage_error, statement_error
from tests.servers import free_port

SQL = "SELECT contact.id FROM contact WHERE contact.display_name = ?"


def client_for(app: FastAPI) -> httpx.AsyncClient:
    # localhost: a Host the app accepts with its default settings.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


def assert_unavailable(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == 503, (where, response.text)
    assert response.headers["content-type"] == "application/problem+json", where
    assert response.headers["retry-after"] in ("1", "2"), where
    problem = response.json()
    assert problem["status"] == 503
    assert "SELECT" not in response.text and "Traceback" not in response.text


def _via_sqlalchemy(error: Exception, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """`error` as it leaves SQLAlchemy: wrapped (asyncpg's through the adapter first)."""
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        adapted = AsyncAdapt_asyncpg_dbapi.Error(str(error), error)
        adapted.__cause__ = error
        base = AsyncAdapt_asyncpg_dbapi.Error
    else:
        adapted, base = error, sqlite3.Error
    wrapped = sa_exc.DBAPIError.instance(
        SQL, ("Ada",), adapted, base, connection_invalidated=invalidated
    )
    wrapped.__cause__ = adapted
    return wrapped


OUTAGES = {
    "sqlite locked": lambda: _via_sqlalchemy(sqlite3.OperationalError("database is locked")),
    "sqlite cannot open": lambda: _via_sqlalchemy(
        sqlite3.OperationalError("unable to open database file")
    ),
    "postgres shutting down": lambda: _via_sqlalchemy(
        asyncpg.AdminShutdownError("terminating connection due to administrator command")
    ),
    "postgres starting up": lambda: _via_sqlalchemy(
        asyncpg.CannotConnectNowError("the database system is starting up")
    ),
    "connection dropped": lambda: _via_sqlalchemy(
        asyncpg.InterfaceError("connection is closed"), invalidated=True
    ),
    "raw asyncpg starting up": lambda: asyncpg.CannotConnectNowError("starting up"),
    "raw asyncpg connection gone": lambda: asyncpg.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    ),
    "raw asyncpg admin shutdown": lambda: asyncpg.AdminShutdownError("terminating"),
    "raw asyncpg too many connections": lambda: asyncpg.TooManyConnectionsError("too many"),
    "raw asyncpg closed": lambda: asyncpg.InterfaceError("connection is closed"),
    "pool timeout": lambda: sa_exc.TimeoutError("QueuePool limit of size 20 reached"),
    "disconnection": lambda: sa_exc.DisconnectionError("gone"),
    "connection refused": lambda: ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
    "host unreachable": lambda: OSError(errno.EHOSTUNREACH, "No route to host"),
    "no such host": lambda: socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    "connect timeout": lambda: TimeoutError(),
}

# Errors in a statement or in the code: a bug to fix, not a reason for clients to retry.
BUGS = {
    "sqlite constraint": lambda: _via_sqlalchemy(sqlite3.IntegrityError("UNIQUE failed")),
    "sqlite binding": lambda: _via_sqlalchemy(sqlite3.InterfaceError("Error binding")),
    "postgres constraint": lambda: _via_sqlalchemy(asyncpg.UniqueViolationError("duplicate")),
    "postgres syntax": lambda: _via_sqlalchemy(asyncpg.PostgresSyntaxError("syntax error")),
    "asyncpg misuse": lambda: asyncpg.InterfaceError("another operation is in progress"),
    "plain bug": lambda: RuntimeError("boom"),
}


@pytest.fixture
def raising_app(app: FastAPI, db: None) -> FastAPI:
    raising = create_app(app.state.settings)
    raising.state.sessionmaker = app.state.sessionmaker

    @raising.get("/raise/{name}")
    async def _raise(name: str) -> None:
        raise {**OUTAGES, **BUGS}[name]()

    return raising


@pytest.mark.parametrize("name", OUTAGES)
async def test_an_outage_error_is_a_503_problem(raising_app: FastAPI, name: str) -> None:
    async with client_for(raising_app) as client:
        response = await client.get(f"/raise/{name}", headers={"X-Request-ID": "outage-1"})
    assert_unavailable(response)
    assert response.headers["x-request-id"] == "outage-1"
    assert response.json()["type"].endswith("/service-unavailable")


@pytest.mark.parametrize("name", BUGS)
async def test_any_other_error_is_still_a_500(raising_app: FastAPI, name: str) -> None:
    async with client_for(raising_app) as client:
        response = await client.get(f"/raise/{name}")
    assert response.status_code == 500
    assert "retry-after" not in response.headers


@pytest.fixture(params=["sqlite", "postgresql"])
def unreachable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of each kind that cannot be opened: no server listens on the port; the
    SQLite "file" is a folder."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}"
    return f"postgresql://postgres@127.0.0.1:{free_port()}/goodwill"


async def test_an_unreachable_database_answers_503_everywhere(unreachable_url: str) -> None:
    app = create_app(Settings(database_url=unreachable_url, rate_limit="100000/minute"))
    uncached, cached = "gw_" + "a" * 40, "gw_" + "b" * 40
    principal = Principal(owner_id="own_x", key_id="key_x", scopes=frozenset({"read", "write"}))
    app.state.api_keys.cache.put(hash_secret(cached), principal)
    auth = {"Authorization": f"Bearer {cached}"}
    try:
        async with client_for(app) as client:
            answers = [
                await client.get("/readyz"),
                # The API key is looked up in the database.
                await client.get("/v1/me", headers={"Authorization": f"Bearer {uncached}"}),
                # The key is cached: the endpoint is the first to reach the database.
                await client.get("/v1/contacts/ct_x", headers=auth),
                await client.get("/v1/contacts", params={"q": "Ada"}, headers=auth),
                await client.get("/v1/ledger", headers=auth),
                await client.get("/v1/events", headers=auth),
                await client.post("/v1/contacts", json=contact_body(), headers=auth),
                # The idempotency record is the first to reach the database.
                await client.post(
                    "/v1/contacts",
                    json=contact_body(),
                    headers={**auth, "Idempotency-Key": "k1"},
                ),
                await client.get("/consent/" + "t" * 43),
            ]
    finally:
        await app.state.engine.dispose()
    for response in answers:
        assert_unavailable(response)


# Where a POST meets the database before its commit, in order: the key, the idempotency
# record, the work, the stored response.
STAGES = {
    "auth": lambda sql: "FROM api_key" in sql,
    "idempotency lookup": lambda sql: "FROM idempotency_record" in sql,
    "endpoint": lambda sql: sql.startswith("INSERT INTO contact "),
    "idempotency record": lambda sql: sql.startswith("INSERT INTO idempotency_record"),
}


async def _contacts(client: httpx.AsyncClient, owner: Actor) -> list[str]:
    listed = await client.get("/v1/contacts", headers=owner.headers)
    return [c["id"] for c in listed.json()["data"]]


async def _retry_does_it_once(
    client: httpx.AsyncClient, owner: Actor, body: dict, headers: dict[str, str]
) -> None:
    """After a 503 nothing was written; the client retries with the same key, and the work
    is done once."""
    assert await _contacts(client, owner) == []
    retried = await client.post("/v1/contacts", json=body, headers=headers)
    assert retried.status_code == 201, retried.text
    again = await client.post("/v1/contacts", json=body, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert await _contacts(client, owner) == [retried.json()["id"]]


@pytest.mark.parametrize("stage", STAGES)
async def test_a_write_failing_in_the_database_is_503_and_leaves_nothing(
    client: httpx.AsyncClient, owner: Actor, engine: AsyncEngine, stage: str
) -> None:
    headers = {**owner.headers, "Idempotency-Key": f"outage-{stage}"}
    body = contact_body(external_refs={})
    with failing_statements(engine, STAGES[stage], lambda: outage_error(engine)) as failed:
        refused = await client.post("/v1/contacts", json=body, headers=headers)
    assert failed, "the fault was injected"
    assert_unavailable(refused)
    await _retry_does_it_once(client, owner, body, headers)


@pytest.fixture(scope="module")
def committing_url(fresh_database_url) -> str:  # type: ignore[no-untyped-def]
    url = fresh_database_url("outage")
    upgrade(url)
    return url


@pytest.fixture(scope="module")
async def committing_app(committing_url: str) -> AsyncIterator[FastAPI]:
    """An app on a database of its own, whose requests commit for real (no test transaction
    around them): its COMMIT is the driver's, and a failed one is undone as in production."""
    app = create_app(Settings(database_url=committing_url, rate_limit="100000/minute"))
    yield app
    await app.state.engine.dispose()


async def test_a_failed_commit_is_503_and_leaves_nothing(
    committing_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: AsyncEngine = committing_app.state.engine
    owner = await make_actor(committing_app, "commit")
    headers = {**owner.headers, "Idempotency-Key": "commit"}
    body = contact_body(external_refs={})

    def failing_commit(_dbapi_connection: object) -> None:
        raise outage_error(engine)

    async with client_for(committing_app) as client:
        with monkeypatch.context() as patch:
            patch.setattr(engine.sync_engine.dialect, "do_commit", failing_commit)
            refused = await client.post("/v1/contacts", json=body, headers=headers)
        assert_unavailable(refused)
        await _retry_does_it_once(client, owner, body, headers)


async def test_a_failed_rollback_does_not_replace_the_outage(
    committing_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: AsyncEngine = committing_app.state.engine
    owner = await make_actor(committing_app, "rollback")
    headers = {**owner.headers, "Idempotency-Key": "rollback"}
    body = contact_body(external_refs={})
    rollbacks = 0

    def failing_rollback(_dbapi_connection: object) -> None:
        nonlocal rollbacks
        rollbacks += 1
        raise statement_error(engine, "rollback refused")

    async with client_for(committing_app) as client:
        # The key is cached, so the first statement is the idempotency record's SELECT (not a
        # flush, which would roll back by itself).
        await _contacts(client, owner)
        stage = STAGES["idempotency lookup"]
        with (
            monkeypatch.context() as patch,
            failing_statements(engine, stage, lambda: outage_error(engine)) as failed,
        ):
            patch.setattr(engine.sync_engine.dialect, "do_rollback", failing_rollback)
            refused = await client.post("/v1/contacts", json=body, headers=headers)
        assert failed and rollbacks >= 1
        assert_unavailable(refused)
        # The connection whose rollback failed was not handed out again.
        await _retry_does_it_once(client, owner, body, headers)


@pytest.mark.postgres
async def test_connections_the_server_dropped_answer_503_then_recover(
    committing_app: FastAPI,
) -> None:
    """What a restart does to a pool: every connection in it is dead. A request that meets
    one answers 503, and the next ones reconnect."""
    app = committing_app
    owner = await make_actor(app, "dropped")
    async with client_for(app) as client:
        # Several connections in the pool, each used once.
        warm = [client.get("/v1/contacts", headers=owner.headers) for _ in range(4)]
        assert {r.status_code for r in await asyncio.gather(*warm)} == {200}
        admin = await asyncpg.connect(app.state.settings.database_url)
        try:
            terminated = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        assert terminated >= 1
        keys = [f"dropped-{n}" for n in range(6)]
        # One body per key, sent again as is: a retry is the same request.
        bodies = {key: contact_body(display_name=key, external_refs={}) for key in keys}

        async def post(key: str) -> httpx.Response:
            return await client.post(
                "/v1/contacts",
                json=bodies[key],
                headers={**owner.headers, "Idempotency-Key": key},
            )

        answers = [await post(key) for key in keys]
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {201, 503}, statuses
        assert statuses[0] == 503 and statuses[-1] == 201, statuses
        for answer in answers:
            if answer.status_code == 503:
                assert_unavailable(answer)
        # Retried with the same keys: every contact exists exactly once.
        assert {(await post(key)).status_code for key in keys} == {201}
        listed = (await client.get("/v1/contacts", headers=owner.headers)).json()["data"]
        assert sorted(c["display_name"] for c in listed) == sorted(keys)


async def test_a_worker_starting_during_an_outage_waits_for_the_database(
    unreachable_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn stops every worker when one fails to start, so a worker (re)started while the
    database restarts must wait for it, not fail."""
    app = create_app(Settings(database_url=unreachable_url, rate_limit="100000/minute"))
    loaded = signing.load_secret
    calls = 0

    async def load_when_back(engine: AsyncEngine) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            await loaded(engine)  # the real attempt, which meets the outage
        # Back: nothing to load from the unreachable database; the secret is the tests' own.

    monkeypatch.setattr(signing, "load_secret", load_when_back)
    monkeypatch.setattr(app_main, "settle_heap", lambda: None)  # not the tests' own heap
    try:
        async with asyncio.timeout(20), app.router.lifespan_context(app):
            assert calls == 3
    finally:
        await app.state.engine.dispose()


async def test_a_worker_fails_to_start_on_anything_but_an_outage(
    unreachable_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(database_url=unreachable_url, rate_limit="100000/minute"))

    async def broken(engine: AsyncEngine) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(signing, "load_secret", broken)
    monkeypatch.setattr(app_main, "settle_heap", lambda: None)
    try:
        with pytest.raises(RuntimeError):
            async with asyncio.timeout(20), app.router.lifespan_context(app):
                pass
    finally:
        await app.state.engine.dispose()
