"""Database failures on demand: a statement fails with the error the driver itself raises
when the server goes away (or refuses it), so that SQLAlchemy wraps, classifies and reports
it exactly as it would a real one, statement text and parameters included."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


def outage_error(engine: AsyncEngine) -> Exception:
    """What the driver raises for a server that cannot serve: SQLite's lock held past its
    timeout; PostgreSQL's backend terminated by a shutdown (as SQLAlchemy's asyncpg adapter
    translates it)."""
    dbapi = engine.dialect.loaded_dbapi
    if engine.dialect.name == "sqlite":
        return dbapi.OperationalError("database is locked")
    return _adapted(dbapi.Error, asyncpg.AdminShutdownError("terminating connection"))


def statement_error(engine: AsyncEngine, message: str) -> Exception:
    """A statement the database refused (a bug, not an outage), with a driver message that
    quotes values, as PostgreSQL's constraint errors do."""
    dbapi = engine.dialect.loaded_dbapi
    if engine.dialect.name == "sqlite":
        return dbapi.IntegrityError(message)
    return _adapted(dbapi.IntegrityError, asyncpg.UniqueViolationError(message))


def _adapted(adapter_class: Any, error: Exception) -> Exception:
    adapted = adapter_class(str(error), error)
    adapted.__cause__ = error
    return adapted


@contextmanager
def failing_statements(
    engine: AsyncEngine, matches: Callable[[str], bool], error: Callable[[], Exception]
) -> Iterator[list[str]]:
    """Every statement run through `engine` whose SQL `matches` fails with `error()`; the
    failed statements are collected in the list yielded."""
    failed: list[str] = []

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if matches(statement):
            failed.append(statement)
            raise error()

    event.listen(engine.sync_engine, "before_cursor_execute", fail)
    try:
        yield failed
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", fail)
