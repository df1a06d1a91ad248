"""SQL functions spelled differently on PostgreSQL and SQLite, each compiled for the database
it runs on, so that a service's statement says what it means and never which database it is
on (tests/core/test_seam.py)."""

from datetime import datetime
from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.core.types import UTCDateTime


class position(FunctionElement[int]):
    """Where a text first occurs in another (1-based; 0: nowhere): `strpos` on PostgreSQL,
    `instr` on SQLite. Unlike LIKE, no index answers it."""

    type = Integer()
    name = "strpos"
    inherit_cache = True


@compiles(position)
def _strpos(element: position, compiler: Any, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


@compiles(position, "sqlite")
def _instr(element: position, compiler: Any, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


class plus_days(FunctionElement[datetime]):
    """`plus_days(at, days)`: a UTCDateTime plus a whole number of days, in SQL, as
    Python's `at + timedelta(days=days)` computes it (tests/interactions/test_service.py holds
    the two together on both databases). For a write that moves a date in its own UPDATE instead
    of reading the row first (app/contacts/service.py, `touch_interaction`)."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(plus_days)
def _plus_days_postgresql(element: plus_days, compiler: Any, **kw: Any) -> str:
    at, days = (compiler.process(clause, **kw) for clause in element.clauses)
    # Hours, not days: a day added to a timestamptz follows the session's time zone across
    # a daylight-saving change; 24 hours are what timedelta(days=1) is, in any time zone.
    return f"({at} + make_interval(hours => 24 * {days}))"


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element: plus_days, compiler: Any, **kw: Any) -> str:
    at, days = (compiler.process(clause, **kw) for clause in element.clauses)
    # UTCDateTime is stored as text, 'YYYY-MM-DD HH:MM:SS.ffffff': SQLite's date functions
    # keep only milliseconds, so the date and time are moved and the fraction carried over.
    return f"(strftime('%Y-%m-%d %H:%M:%S', {at}, '+' || {days} || ' days') || substr({at}, 20))"
