"""The migrations build exactly the schema the models describe, and the schema keeps its
multi-tenant shape: every table is keyed and indexed by `owner_id` first.

The database tests are synchronous on purpose: migrations/env.py runs its own event loop
(`asyncio.run`), which cannot start inside pytest-asyncio's running loop.
"""

import asyncio
import pprint
from collections.abc import Callable
from typing import Any, TypeVar

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Connection,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    inspect,
)

from app import models as app_models
from app.core.config import Settings
from app.core.db import create_engine
from app.core.migrations import downgrade, head_revision, upgrade
from app.core.tenancy import OwnerScoped, OwnerScopedChild
from app.models import include_object, metadata

T = TypeVar("T")

APP_TABLES = set(metadata.tables)


def _on_connection(url: str, fn: Callable[[Connection], T]) -> T:
    """Run `fn` with a sync connection to `url`, through the app's own async engine."""

    async def run() -> T:
        engine = create_engine(Settings(database_url=url), pooled=False)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _schema_state(conn: Connection) -> dict[str, Any]:
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    versions: list[str] = []
    if "alembic_version" in tables:
        versions = [
            row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
        ]
    sequences = set(inspector.get_sequence_names()) if conn.dialect.name == "postgresql" else set()
    return {"tables": tables, "versions": versions, "sequences": sequences}


def test_models_and_migration_head_agree(fresh_database_url) -> None:
    url = fresh_database_url("autogen")
    upgrade(url)

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object}
        )
        return compare_metadata(context, metadata)

    differences = _on_connection(url, diff)
    assert differences == [], (
        "the models and the migration head disagree; add a migration "
        "(`alembic revision --autogenerate`) for:\n" + pprint.pformat(differences)
    )


def test_upgrade_downgrade_upgrade(fresh_database_url) -> None:
    url = fresh_database_url("roundtrip")

    upgrade(url)
    state = _on_connection(url, _schema_state)
    assert state["tables"] == APP_TABLES | {"alembic_version"}
    assert state["versions"] == [head_revision()]

    downgrade(url, "base")
    state = _on_connection(url, _schema_state)
    assert state["tables"] <= {"alembic_version"}, "downgrade to base left app tables behind"
    assert state["versions"] == []
    assert state["sequences"] == set(), "downgrade to base left sequences behind"

    upgrade(url)
    state = _on_connection(url, _schema_state)
    assert state["tables"] == APP_TABLES | {"alembic_version"}
    assert state["versions"] == [head_revision()]


# --- The tenant shape of the schema (STYLE.md: "Every table has `owner_id`, indexed first in
# every composite index, because every query filters on it"). Checked on the metadata, which
# the test above proves equal to what the migrations build.

# The owner table is the tenant itself; server_secret holds the service's own signing secret.
TENANT_TABLES = sorted(
    (table for name, table in metadata.tables.items() if name not in ("owner", "server_secret")),
    key=lambda t: t.name,
)


def _keys(table: Table) -> list[tuple[str, tuple[str, ...], bool]]:
    """Every index and key of `table` as (name, columns in order, unique)."""
    keys = []
    for index in table.indexes:
        assert isinstance(index, Index)
        columns = tuple(c.name for c in index.columns)
        keys.append((str(index.name), columns, bool(index.unique)))
    for constraint in table.constraints:
        if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
            columns = tuple(c.name for c in constraint.columns)
            keys.append((str(constraint.name), columns, True))
    return keys


def test_every_table_but_owner_has_a_required_owner_id() -> None:
    missing = [t.name for t in TENANT_TABLES if "owner_id" not in t.columns]
    assert missing == [], f"tables without owner_id: {missing}"
    nullable = [t.name for t in TENANT_TABLES if t.columns["owner_id"].nullable]
    assert nullable == [], f"tables whose owner_id may be NULL: {nullable}"


def test_every_tenant_table_is_owner_scoped_and_goes_with_its_owner() -> None:
    """Each tenant table's model declares `owner_id` through the mixin, never by hand, and
    its rows are deleted with their owner: by a reference to `owner` (OwnerScoped), or by
    the reference to a parent that leads with `owner_id` (OwnerScopedChild)."""
    tables = [getattr(app_models, name) for name in app_models.__all__]
    models = {cls.__tablename__: cls for cls in tables if hasattr(cls, "__table__")}
    offenders = []
    for table in TENANT_TABLES:
        model = models[table.name]
        references = [fk for fk in table.foreign_key_constraints if fk.ondelete == "CASCADE"]
        leading = [fk for fk in references if fk.column_keys[0] == "owner_id"]
        if not issubclass(model, OwnerScoped):
            offenders.append(f"{table.name}: {model.__name__} is not OwnerScoped")
        elif issubclass(model, OwnerScopedChild):
            if not any(fk.referred_table.name != "owner" for fk in leading):
                offenders.append(f"{table.name}: a child with no (owner_id, ...) reference")
        elif not any(fk.referred_table.name == "owner" for fk in leading):
            offenders.append(f"{table.name}: no reference to owner")
    assert offenders == []


def test_owner_id_leads_every_index_and_key() -> None:
    """Every query filters on owner_id, so it leads every composite index and key, and at
    least one index per table. The one exception is a single-column unique key: a globally
    unique value (a random or time-ordered id, a secret's hash, the event sequence) that may
    be looked up before the owner is known, such as `api_key.secret_hash` when authenticating.
    A non-unique single-column index on anything but owner_id would serve a query that does
    not filter by owner, so it is refused too."""
    offenders = []
    for table in TENANT_TABLES:
        keys = _keys(table)
        for name, columns, unique in keys:
            global_identifier = unique and len(columns) == 1
            if columns[0] != "owner_id" and not global_identifier:
                offenders.append(f"{table.name}.{name} {columns}")
        if not any(columns[0] == "owner_id" for _, columns, _ in keys):
            offenders.append(f"{table.name}: no index or key leads with owner_id")
    assert offenders == [], "indexes and keys must lead with owner_id:\n" + "\n".join(offenders)


def test_references_between_tenant_tables_carry_owner_id() -> None:
    """A child row references (owner_id, id) of its parent, so the database itself refuses a
    row that points into another owner's data; only `owner` is referenced by its id alone."""
    offenders = []
    for table in TENANT_TABLES:
        for fk in table.constraints:
            if not isinstance(fk, ForeignKeyConstraint):
                continue
            pairs = [(e.parent.name, e.column.table.name, e.column.name) for e in fk.elements]
            referred = pairs[0][1]
            if referred == "owner":
                ok = pairs == [("owner_id", "owner", "id")]
            else:
                ok = pairs[0] == ("owner_id", referred, "owner_id")
            if not ok:
                offenders.append(f"{table.name}.{fk.name}: {pairs}")
    assert offenders == [], "foreign keys must carry owner_id:\n" + "\n".join(offenders)
