"""Test database and app.

The database is built by `alembic upgrade head` (never `create_all`): a temporary SQLite
file by default, or a fresh database created next to GOODWILL_TEST_DATABASE_URL on
PostgreSQL and dropped afterwards. Each test runs inside an outer transaction that is rolled
back, while the app's own session commits to a savepoint, so the real commit path runs.
"""

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.core.signing import load_secret
from app.main import create_app
from tests.events.receiver import StaticResolver
from tests.factories import Actor, make_actor

PG_URL = os.environ.get("GOODWILL_TEST_DATABASE_URL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set GOODWILL_TEST_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin_async(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _admin(url: str, sql: str) -> None:
    # In a thread of its own, so that async tests (inside a running loop) can call it too.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _admin_async(url, sql)).result()


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def fresh_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A factory of empty databases of the kind under test, removed at the end."""
    created: list[str] = []

    def make(label: str) -> str:
        if PG_URL:
            name = f"goodwill_{label}_{secrets.token_hex(4)}"
            _admin(PG_URL, f'CREATE DATABASE "{name}"')
            created.append(name)
            return _with_database(PG_URL, name)
        path: Path = tmp_path_factory.mktemp(label) / "goodwill.db"
        return f"sqlite:///{path}"

    yield make
    for name in created:
        _admin(PG_URL or "", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(fresh_database_url) -> str:  # type: ignore[no-untyped-def]
    url = fresh_database_url("test")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        rate_limit="100000/minute",
        # The tests' client calls the service http://test.
        allowed_hosts=["test", "localhost", "127.0.0.1"],
        log_json=True,
        # Webhook tests deliver to a receiver on 127.0.0.1.
        webhook_allow_private=True,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    # What the app's lifespan does at start (httpx's ASGITransport does not run it).
    await load_secret(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    # Webhook hosts resolve from a fixed table: no test ever asks DNS.
    app.state.resolver = StaticResolver()
    return app


@pytest.fixture
async def db(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[None]:
    """Bind the app to one connection whose outer transaction is rolled back at the end."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        app.state.sessionmaker = create_sessionmaker(conn, join_transaction_mode="create_savepoint")
        try:
            yield
        finally:
            await outer.rollback()


@pytest.fixture
async def client(app: FastAPI, db: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def owner(app: FastAPI, db: None) -> Actor:
    return await make_actor(app, "owner")


@pytest.fixture
async def other_owner(app: FastAPI, db: None) -> Actor:
    return await make_actor(app, "other")
