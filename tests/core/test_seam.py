"""Services never know which database they run on: what differs between PostgreSQL and
SQLite, and the driver's own connection, stay in app/core (reads.py, writes.py, db.py, sql.py)."""

import re
from pathlib import Path

import app

APP = Path(app.__file__).parent
KNOWS_THE_DATABASE = re.compile(r"dialect|asyncpg|@compiles")


def test_only_app_core_knows_which_database_it_runs_on() -> None:
    offenders = [
        f"{path.relative_to(APP.parent)}:{number}"
        for path in sorted(APP.rglob("*.py"))
        if path.relative_to(APP).parts[0] != "core"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if KNOWS_THE_DATABASE.search(line)
    ]
    assert offenders == []
