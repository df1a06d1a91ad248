"""Engine, sessions and the transaction rules every request and command follows."""

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.config import Settings

SessionMaker = async_sessionmaker[AsyncSession]

# Prepared statements kept per PostgreSQL connection (see create_engine).
PREPARED_STATEMENTS = 32

# Connections per process at most on SQLite. Each holds its own page cache (2 MiB) and an
# aiosqlite thread, and more of them buy no throughput: one writer at a time, and every
# connection's work runs under the same GIL. SQLAlchemy's default for aiosqlite, 5 + 10
# overflow, cost 15 MB more per worker than 8 at the same rps
# (docs/decisions/2026-12-01-sqlite-pool-of-eight.md).
SQLITE_POOL_SIZE = 8

# Execution option that marks a session's transaction as one that will write.
WRITE_OPTION = "goodwill_write"
# In a session's `info`: the unit of work began it as read-only (app/core/unit_of_work.py).
READ_ONLY = "goodwill_read_only"


class WriteInReadOnlyRequest(RuntimeError):
    """A bug: a request that was to read only tried to write. Mark its endpoint `@writes`,
    or stop it writing."""


def refuse_write_if_read_only(session: AsyncSession | Any, what: object) -> None:
    """Fail a write through a session that was begun read-only (an AsyncSession, or the
    Session inside it)."""
    if session.info.get(READ_ONLY):
        raise WriteInReadOnlyRequest(f"a read-only request ran {what!s:.60}")


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Same behaviour as PostgreSQL where it matters: enforced foreign keys, real
    transactions (pysqlite's implicit ones break SAVEPOINT), concurrent readers (WAL)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the documented pysqlite recipe).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock up front (IMMEDIATE): a deferred one that
        # reads and then writes fails at once with SQLITE_BUSY when another writer got there
        # first, whereas this waits for busy_timeout. Reads stay deferred and, under WAL,
        # run alongside a writer.
        write = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    url = settings.async_database_url
    kwargs: dict[str, Any] = {}
    if not pooled:
        kwargs["poolclass"] = NullPool
    elif url.startswith("postgresql"):
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_pre_ping=False,
        )
    elif url.startswith("sqlite") and settings.sqlite_path() is not None:
        kwargs.update(
            pool_size=min(settings.db_pool_size, SQLITE_POOL_SIZE),
            max_overflow=settings.db_max_overflow,
        )
    if url.startswith("postgresql"):
        kwargs["connect_args"] = {
            # Prepared statements kept per connection (SQLAlchemy's default: 100). The app
            # runs a few dozen statements over and over; when every search was a statement
            # of its own, 100 per connection and 20 connections grew a worker by 40 MB under
            # a search-heavy load (docs/decisions/2026-11-22-search-planned-per-text.md).
            "prepared_statement_cache_size": PREPARED_STATEMENTS,
            # Timestamps travel as text in this form, `2026-12-01 16:19:20.123456+00`, which
            # `_set_codecs` parses.
            "server_settings": {"timezone": "UTC", "datestyle": "ISO"},
        }
    if url.startswith("sqlite"):
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 10}
    # JSON columns (tags, channels, ...) are read with orjson: the standard library's decoder
    # was a seventh of the CPU of a page of contacts
    # (docs/decisions/2026-12-01-cheaper-row-decoding.md). Writes keep the
    # standard encoder.
    # hide_parameters: SQLAlchemy would otherwise put a failed statement's parameters (names,
    # emails, notes) into its error's message, and so into any log line that renders it.
    engine = create_async_engine(
        url, json_deserializer=orjson.loads, hide_parameters=True, **kwargs
    )
    if url.startswith("sqlite"):
        _configure_sqlite(engine)
    else:
        _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # After SQLAlchemy's own codecs (its listener was added with the engine), so these
        # replace them.
        dbapi_conn.run_async(_set_codecs)


async def _set_codecs(connection: Any) -> None:
    """Decode the two types every contact row is made of more cheaply than asyncpg's and
    SQLAlchemy's defaults, to the same values: a page of 50 contacts holds 250 timestamps
    and 150 JSON values (docs/decisions/2026-12-01-cheaper-row-decoding.md).

    Timestamps come as text and are parsed by `datetime.fromisoformat`, in C: asyncpg's
    binary decoder builds each one with Python datetime arithmetic, four times the CPU. With
    the session in UTC (`server_settings`), they arrive aware and in UTC, as `UTCDateTime`
    would return them. JSON goes straight to orjson, which takes bytes: SQLAlchemy's decoder
    is a Python function that decodes the bytes to text first."""
    await connection.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=str,
        decoder=datetime.fromisoformat,
        format="text",
    )
    await connection.set_type_codec(
        "json", schema="pg_catalog", encoder=str.encode, decoder=orjson.loads, format="binary"
    )


def create_sessionmaker(bind: Any, **kwargs: Any) -> SessionMaker:
    return async_sessionmaker(bind=bind, class_=AsyncSession, expire_on_commit=False, **kwargs)


async def begin_read_only(session: AsyncSession) -> None:
    """Run a request that never writes without BEGIN and COMMIT on PostgreSQL (autocommit):
    two round trips fewer, the same answers. At READ COMMITTED, PostgreSQL's default and
    ours, every statement of a transaction takes its own snapshot anyway, so one statement
    or several give the same results in a transaction or out of one. Not on SQLite, where
    the read transaction is what gives several statements one snapshot, nor when the session
    is bound to a connection with a transaction already open (the tests)."""
    bind = session.bind
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def begin_snapshot(session: AsyncSession) -> None:
    """Begin a transaction that reads one snapshot throughout and never writes: REPEATABLE
    READ, READ ONLY on PostgreSQL. On SQLite a read transaction in WAL mode already sees one
    snapshot. Only on an engine: a session joined to a connection that is already in a
    transaction (the tests) cannot change its isolation."""
    bind = session.bind
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )


async def begin_write(session: AsyncSession) -> None:
    """Begin the session's transaction as a writing one (matters on SQLite only)."""
    if isinstance(session.bind, AsyncEngine) and session.bind.dialect.name == "sqlite":
        await session.connection(execution_options={WRITE_OPTION: True})
