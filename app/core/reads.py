"""Reads for the hottest endpoints: one prebuilt SELECT, run on the driver's own connection.

A GET of one contact spent more CPU in SQLAlchemy's session and execution machinery (the
session's life, an execution context, result processing, greenlet switches) than in
everything else it does (docs/decisions/2026-12-01-reader-for-hot-reads.md). A `Reader`
keeps SQLAlchemy for building the statements and compiles each of them once; on
PostgreSQL it then runs it with asyncpg on a connection checked out of the engine's own
pool: the same connections, with the codecs SQLAlchemy gave them (JSON decoded with orjson,
timestamps aware and in UTC), so rows come back with the values SQLAlchemy would have
produced (tests/core/test_reads.py checks it).

Statements whose SQL depends on their values (literal_execute, expanding IN) and every
statement on SQLite run through SQLAlchemy Core instead, on a connection of their own. A
statement whose best plan depends on its values (a search) is planned for them on every
run (`plan_for_values`).

A Reader runs single statements outside any transaction. On PostgreSQL at READ COMMITTED
(the default, and ours) every statement takes its own snapshot anyway, so the answer is the
one a transaction would give; on SQLite, Core wraps the statement in a read transaction that
ends when its connection goes back to the pool. Bound to a connection instead of an engine
(the tests, whose connection holds a transaction that is rolled back), or to a session, it
runs on that connection and sees what it sees.

Where SQL itself must differ between the databases (LATERAL, which SQLite lacks; an array
parameter, which it has no type for), a service gives both spellings of one query as a
`Spelled`, and the Reader runs the one of the database it is connected to: the service never
asks which that is (tests/core/test_seam.py), and the tests of both databases run their own.

The one write that takes the driver's path is a hot path's one statement
(`insert_after_update`, app/core/writes.py: a ledger entry or an interaction, its contact's
move and its event): `write` runs it on the session's own connection, in its transaction.
SQLAlchemy's execution machinery was half of that statement's CPU in the worker.

A request never holds two of the pool's connections at once: with every connection held by
a request waiting for its second one, the pool would stall until its timeout. So a request
that has already opened its session (to look up an uncached API key) reads on the session's
connection (`request_reader`).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import Request
from sqlalchemy import Executable, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.util import greenlet_spawn

from app.core.db import refuse_write_if_read_only

Rows = Sequence[Mapping[str, Any]]

# Compiled statements kept in a process: a few dozen in practice (the list's shapes are
# kept by an lru_cache of 256); past this the cache starts again rather than grow.
_MAX_PREPARED = 512


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for asyncpg: its SQL, and how to lay out its arguments."""

    sql: str
    names: tuple[str, ...]
    # Values fixed in the statement itself, such as a literal default.
    fixed: Mapping[str, Any]
    processors: Mapping[str, Callable[[Any], Any]]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        args = []
        for name in self.names:
            if name in params:
                value = params[name]
            elif name in self.fixed:
                value = self.fixed[name]
            else:
                raise KeyError(f"statement parameter {name!r} was not given")
            processor = self.processors.get(name)
            args.append(processor(value) if processor is not None and value is not None else value)
        return args


def _prepare(statement: Executable, dialect: Dialect) -> _Prepared | None:
    """Compile once for the driver, or None when the SQL would depend on the values."""
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    if compiled.literal_execute_params or compiled.post_compile_params:
        return None
    names = tuple(compiled.positiontup or ())
    fixed = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
    processors = {}
    for name in names:
        processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    return _Prepared(compiled.string, names, fixed, processors)


# Statements are module constants or built once per shape and kept (lru_cache), so the
# statement object itself is the key (a Select hashes by identity); one dialect per process.
_PREPARED: dict[Executable, _Prepared | None] = {}


def _prepared_for(statement: Executable, dialect: Dialect) -> _Prepared | None:
    try:
        return _PREPARED[statement]
    except KeyError:
        if len(_PREPARED) >= _MAX_PREPARED:
            _PREPARED.clear()
        prepared = _PREPARED[statement] = _prepare(statement, dialect)
        return prepared


@dataclass(frozen=True)
class Spelled:
    """One query, spelled for each database: the same columns and rows from both."""

    postgresql: Any
    sqlite: Any


class Reader:
    def __init__(self, bind: AsyncEngine | AsyncConnection | AsyncSession) -> None:
        self.bind = bind
        dialect = bind.bind.dialect if isinstance(bind, AsyncSession) else bind.dialect
        self.dialect = dialect
        self._raw = dialect.name == "postgresql" and dialect.driver == "asyncpg"

    async def rows(
        self,
        statement: Select[Any] | Spelled,
        params: Mapping[str, Any],
        *,
        plan_for_values: bool = False,
    ) -> Rows:
        """Run a SELECT; each row maps column labels to values.

        `plan_for_values`: PostgreSQL plans the statement for these values, every time. A
        statement prepared once and run again may be given a generic plan, made without the
        values, after five runs; for a search that plan cannot tell a rare email from a
        common name (docs/decisions/2026-12-07-search-prepared-per-run.md). Such a
        statement is prepared afresh for each run as the unnamed statement (asyncpg's
        `prepare` with the name ""), outside the statement cache: each run is the first of
        its statement, and the next Parse replaces it, so there is nothing to close."""
        if isinstance(statement, Spelled):
            statement = getattr(statement, self.dialect.name)
        bind = self.bind
        if isinstance(bind, AsyncSession):
            bind = await bind.connection()
        prepared = _prepared_for(statement, self.dialect) if self._raw else None
        if prepared is None:
            return await self._core_rows(bind, statement, params)
        args = prepared.arguments(params)
        if isinstance(bind, AsyncConnection):
            raw = await bind.get_raw_connection()
            return await _fetch(raw.driver_connection, prepared.sql, args, plan_for_values)
        return await self._pooled_fetch(bind, prepared.sql, args, plan_for_values)

    @staticmethod
    async def _pooled_fetch(
        engine: AsyncEngine, sql: str, args: list[Any], plan_for_values: bool
    ) -> Rows:
        fairy = await engine.raw_connection()
        try:
            rows = await _fetch(fairy.driver_connection, sql, args, plan_for_values)
        except asyncpg.PostgresConnectionError as exc:
            fairy.invalidate(exc)
            raise
        except asyncpg.PostgresError:
            # The server refused the statement; the connection itself is fine.
            raise
        except BaseException as exc:
            # Cancelled mid-statement, or the connection broke: never hand it out again.
            fairy.invalidate(exc if isinstance(exc, Exception) else None)
            raise
        finally:
            # Back to the pool (or, invalidated, closed): SQLAlchemy does it in a greenlet.
            await greenlet_spawn(fairy.close)
        return rows

    @staticmethod
    async def _core_rows(
        bind: AsyncEngine | AsyncConnection, statement: Select[Any], params: Mapping[str, Any]
    ) -> Rows:
        if isinstance(bind, AsyncConnection):
            result = await bind.execute(statement, params)
            return [row._mapping for row in result]
        async with bind.connect() as connection:
            result = await connection.execute(statement, params)
            return [row._mapping for row in result]


async def _fetch(
    connection: asyncpg.Connection, sql: str, args: list[Any], plan_for_values: bool
) -> Rows:
    if plan_for_values:
        statement = await connection.prepare(sql, name="")
        return await statement.fetch(*args)
    return await connection.fetch(sql, *args)


async def write(session: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> int:
    """Run a prebuilt INSERT, UPDATE or DELETE in `session`'s transaction, on its connection,
    after the session's pending changes; the number of rows its outermost statement wrote.
    Through SQLAlchemy Core where a Reader would be (SQLite, a statement whose SQL depends on
    its values). A session begun read-only refuses it, as it refuses every write
    (app/core/unit_of_work.py)."""
    refuse_write_if_read_only(session, statement)
    if session.new or session.dirty or session.deleted:
        await session.flush()  # as a statement through the session would: in order
    connection = await session.connection()
    dialect = connection.dialect
    raw = dialect.name == "postgresql" and dialect.driver == "asyncpg"
    prepared = _prepared_for(statement, dialect) if raw else None
    if prepared is None:
        result: Any = await connection.execute(statement, params)
        return int(result.rowcount)
    driver = (await connection.get_raw_connection()).driver_connection
    arguments = prepared.arguments(params)
    try:
        # asyncpg answers with the command's status, "INSERT 0 1": its last word is the count.
        status = await driver.execute(prepared.sql, *arguments)  # type: ignore[union-attr]
    except asyncpg.IntegrityConstraintViolationError as exc:
        # Raised as SQLAlchemy raises it, so that a service settles a race (a unique key
        # taken meanwhile) the same way on either path.
        raise IntegrityError(prepared.sql, arguments, exc) from exc
    return int(status.rpartition(" ")[2])


def request_reader(request: Request) -> Reader:
    """The request's Reader: on the request's session when it has opened one, so that it
    holds one connection and not two, else on whatever the app's sessions are bound to (the
    engine; in the tests, the connection holding the test's transaction). A plain call
    rather than a dependency: FastAPI's solving of each dependency costs more than this
    whole lookup (docs/decisions/2026-12-01-auth-as-one-dependency.md)."""
    session = request.state.unit_of_work.session
    if session is not None:
        return Reader(session)
    return Reader(request.app.state.sessionmaker.kw["bind"])
