"""Writes of the hottest write path, in as few statements as the database allows.

A ledger entry moves its contact's running total, is inserted, and is recorded as an event,
in the request's transaction (docs/decisions/2026-11-22-write-once-rows-as-plain-inserts.md).
`insert_after_update` makes any such write: the service builds its statements with
SQLAlchemy and never learns which database runs them. Beside `Reader` (app/core/reads.py),
this is the one place where a hot path's SQL depends on the database:

- PostgreSQL runs the three as one statement, one round trip: a data-modifying CTE that
  inserts the row selected from what the UPDATE returned, and the event selected from the
  inserted row. Its event needs no waiting for the commit: its `seq` is drawn at COMMIT,
  whenever it was inserted (migration 0007, app/core/outbox.py). Three statements, the event
  written by the commit, cost a quarter more instructions per POST /v1/ledger (2,509k against
  3,137k).
- SQLite, which has no data-modifying CTEs, runs the UPDATE, then the INSERT, and its event
  is written by the commit, as `record_event` does for every other write.

Both leave the same rows; the ledger's tests run both
(docs/decisions/2026-12-07-one-data-path-per-kind-of-work.md).
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Insert, Table, Update, bindparam, insert, select
from sqlalchemy.dialects import postgresql
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.outbox import EVENT_COLUMNS, EVENTS, event_row, record_event
from app.core.reads import write

# The inserted row's and the event's parameters in the one statement, prefixed: SQLAlchemy
# takes a parameter named after a column of the updated table as a value for the UPDATE to
# SET (a bug the PostgreSQL suite once caught: an entry that also moved its contact's id).
_ROW, _EVENT = "row_", "event_"

# Statements are module constants, so the objects themselves are the key.
_ONE_STATEMENT: dict[tuple[Update, Table], Insert] = {}


def _one_statement(update: Update, table: Table) -> Insert:
    key = (update, table)
    statement = _ONE_STATEMENT.get(key)
    if statement is not None:
        return statement
    target = update.table
    names = [f"{_ROW}{column.key}" for column in table.columns]
    names += [f"{_EVENT}{name}" for name in EVENT_COLUMNS]
    clashes = set(names) & set(target.c.keys())  # type: ignore[attr-defined]
    if clashes:
        raise ValueError(f"parameters named after columns of {target}: {sorted(clashes)}")
    moved = update.returning(*target.primary_key.columns).cte("moved")  # type: ignore[attr-defined]
    columns = [column.key for column in table.columns]
    row = [bindparam(f"{_ROW}{name}", type_=table.c[name].type) for name in columns]
    inserted = (
        insert(table)
        .from_select(columns, select(*row).select_from(moved))
        .returning(*table.primary_key.columns)
        .cte("inserted")
    )
    event = [bindparam(f"{_EVENT}{name}", type_=EVENTS.c[name].type) for name in EVENT_COLUMNS]
    statement = insert(EVENTS).from_select(EVENT_COLUMNS, select(*event).select_from(inserted))
    _ONE_STATEMENT[key] = statement
    return statement


async def insert_after_update(
    session: AsyncSession,
    update: Update,
    params: Mapping[str, Any],
    table: Table,
    row: Mapping[str, Any],
    *,
    event: Mapping[str, Any],
) -> bool:
    """Run `update` (a prebuilt UPDATE of at most one row, with `params`); only if it changed
    a row, insert `row` (every column of `table`) and record `event` (`record_event`'s
    keywords), all in the session's transaction. False, with nothing written, when the
    UPDATE matched no row. The UPDATE's own parameters must not start with `row_` or
    `event_`. What is pending in the session is flushed first."""
    if session.bind.dialect.name == "postgresql":
        values = {f"{_ROW}{name}": value for name, value in row.items()}
        values.update((f"{_EVENT}{name}", value) for name, value in event_row(**event).items())
        values.update(params)
        # On the driver's connection (app/core/reads.py): one statement, many parameters.
        return await write(session, _one_statement(update, table), values) == 1
    if await write(session, update, params) != 1:
        return False
    await write(session, insert(table), row)
    record_event(session, **event)
    return True


def insert_ignoring_duplicates(table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING: rows whose key is already there are left as they
    are. PostgreSQL's construct, whose SQL SQLite (3.24 and later) also runs as written."""
    return postgresql.insert(table).on_conflict_do_nothing()
