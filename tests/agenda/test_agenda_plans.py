"""The agenda's statements on a large network read indexes, never a whole table.

GET /v1/agenda is a request a phone makes on every open: each kind must read the owner's
rows in the kind's order and stop at its LIMIT, whatever the size of the network. The
statements are captured as the app runs them (GET /v1/agenda, each kind, a first page and
the next) and planned with their parameters by PostgreSQL: no sequential scan of the
contacts, entries, introductions or reminders, and no sort of all of an owner's rows (an
incremental sort over an index's order, a page at a time, is fine).

They run as prepared statements, which PostgreSQL may give a generic plan after five runs:
one made for the average owner, which beside many small owners is small
(docs/decisions/2026-12-07-agenda-names-by-subquery.md). So the network has small owners
beside the large one, and each statement's generic plan, run for the large owner, must read
about as many pages as the plan made for its values.
"""

import random
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from app.agenda.models import AgendaItemState
from app.agenda.schemas import AgendaKind
from app.auth.models import Owner
from app.contacts.models import Contact
from app.contacts.service import due_at
from app.core import reads
from app.core.types import utcnow
from app.introductions.models import Introduction
from app.ledger.models import LedgerEntry
from app.reminders.models import Reminder
from tests.factories import contact_row

CONTACTS, ENTRIES, INTRODUCTIONS, REMINDERS, HIDDEN = 20_000, 40_000, 4_000, 2_000, 500
# Owners beside the large one, each with a few contacts, entries and introductions: the
# average owner a generic plan is made for has about a hundred contacts.
SMALL_OWNERS, SMALL_CONTACTS = 300, 30
# How many times the pages of the plan made for the values a generic plan may read, beyond
# a few for the subqueries it runs once.
GENERIC_SLACK, GENERIC_EXTRA_PAGES = 3, 50
BIG_TABLES = ("contact", "ledger_entry", "introduction", "reminder")
# The suggestions behind `give` are not read per request: computed once for the owner's data
# and kept (app/network/suggestions.py), by a statement that ranks every need and offer.
KEPT = "contact_phrase"
# A sort node that reads its whole input first (not "Incremental Sort").
FULL_SORT = re.compile(r"(^|->  )Sort  \(")


def _windowed(statement: str) -> bool:
    """Whether the kind reads a window of its order's column bounded on both sides (thanks
    owed: thanks_window_days before the day to its end; consent links: lapsing from now to
    two days after the day): PostgreSQL may sort that window's rows when a page asks for
    about as many as it holds, or estimates it holds one, and the sort is bounded by the
    window, not by the owner's size."""
    return any(
        f"{column} >= " in statement and f"{column} < " in statement
        for column in ("ledger_entry.occurred_at", "introduction.consent_expires_at")
    )


async def _network(conn: Any, owner_id: str) -> None:
    """A network with every kind due: contacts with cadences (some archived, some
    overdrawn), a year of ledger entries, introductions in the states the agenda reads,
    reminders either side of today, and stale hidden items."""
    rng = random.Random(16)
    now = utcnow()
    contacts = []
    for n in range(CONTACTS):
        created = now - timedelta(days=1 + n % 700)
        cadence = (None, 30, 90)[n % 3]
        last = created + timedelta(days=rng.randint(0, 30)) if n % 2 else None
        contacts.append(
            contact_row(
                owner_id,
                id=f"ct_{n:026d}",
                display_name=f"Person {n}",
                cadence_days=cadence,
                search_text=f"person {n}",
                last_interaction_at=last,
                due_at=due_at(last, None, created, cadence),
                ledger_deposits=n % 5,
                ledger_withdrawals=1 if n % 7 == 0 else 0,
                created_at=created,
                archived_at=now if n % 50 == 0 else None,
            )
        )
    await conn.execute(Contact.__table__.insert(), contacts)
    entries = []
    for n in range(ENTRIES):
        at = now - timedelta(days=365 * rng.random())
        entries.append(
            {
                "owner_id": owner_id,
                "id": f"le_{n:026d}",
                "contact_id": f"ct_{rng.randrange(CONTACTS):026d}",
                "direction": "received" if n % 3 == 0 else "gave",
                "kind": "advice",
                "weight": 1 + n % 5,
                "occurred_at": at,
                "created_at": at,
            }
        )
    await conn.execute(LedgerEntry.__table__.insert(), entries)
    states = ("requested", "awaiting_consent", "consented", "made", "completed", "declined")
    introductions = []
    for n in range(INTRODUCTIONS):
        state = states[n % len(states)]
        created = now - timedelta(days=60 * rng.random() + 1)
        asked = state != "requested"
        decided = state in ("consented", "made", "completed", "declined")
        made = state in ("made", "completed")
        introductions.append(
            {
                "owner_id": owner_id,
                "id": f"intro_{n:026d}",
                "requester_id": f"ct_{(2 * n) % CONTACTS:026d}",
                "target_id": f"ct_{(2 * n + 1) % CONTACTS:026d}",
                "state": state,
                "reason": "You both work on developer tools.",
                "consent_requested_at": created if asked else None,
                "consent_expires_at": (
                    now + timedelta(days=14 * rng.random()) if asked and not decided else None
                ),
                "decided_at": created + timedelta(hours=1) if decided else None,
                "made_at": created + timedelta(hours=2) if made else None,
                "requester_outcome": "connected" if state == "completed" else None,
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
    await conn.execute(Introduction.__table__.insert(), introductions)
    reminders = []
    for n in range(REMINDERS):
        due = now + timedelta(days=120 * (rng.random() - 0.5))
        reminders.append(
            {
                "owner_id": owner_id,
                "id": f"rem_{n:026d}",
                "contact_id": f"ct_{rng.randrange(CONTACTS):026d}",
                "due_at": due,
                "done_at": due if n % 5 == 0 and due < now else None,
                "version": 1,
                "created_at": now - timedelta(days=61),
                "updated_at": now - timedelta(days=61),
            }
        )
    await conn.execute(Reminder.__table__.insert(), reminders)
    hidden = [
        {"owner_id": owner_id, "item_id": f"ag_{n:026x}", "until": None, "created_at": now}
        for n in range(HIDDEN)
    ]
    await conn.execute(AgendaItemState.__table__.insert(), hidden)
    await _small_owners(conn, now)
    for table in (*BIG_TABLES, "agenda_item_state", "owner"):
        await conn.execute(text(f"ANALYZE {table}"))


async def _small_owners(conn: Any, now: Any) -> None:
    owners, contacts, entries, introductions = [], [], [], []
    for o in range(SMALL_OWNERS):
        owner_id = f"own_small{o:021d}"
        owners.append({"id": owner_id, "email": f"small{o}@example.com", "created_at": now})
        for n in range(SMALL_CONTACTS):
            contact_id = f"ct_small{o:09d}{n:012d}"
            contacts.append(
                contact_row(
                    owner_id,
                    id=contact_id,
                    display_name=f"Small {o} {n}",
                    search_text=f"small {o} {n}",
                    due_at=now + timedelta(days=n),
                    ledger_deposits=0,
                    ledger_withdrawals=0,
                    created_at=now,
                )
            )
            entries.append(
                {
                    "owner_id": owner_id,
                    "id": f"le_small{o:09d}{n:012d}",
                    "contact_id": contact_id,
                    "direction": "gave",
                    "kind": "advice",
                    "weight": 1,
                    "occurred_at": now - timedelta(days=n),
                    "created_at": now,
                }
            )
        for n in range(0, SMALL_CONTACTS, 6):
            introductions.append(
                {
                    "owner_id": owner_id,
                    "id": f"intro_small{o:09d}{n:012d}",
                    "requester_id": f"ct_small{o:09d}{n:012d}",
                    "target_id": f"ct_small{o:09d}{n + 1:012d}",
                    "state": "consented",
                    "reason": "You both work on developer tools.",
                    "decided_at": now - timedelta(days=1),
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    await conn.execute(Owner.__table__.insert(), owners)
    await conn.execute(Contact.__table__.insert(), contacts)
    await conn.execute(LedgerEntry.__table__.insert(), entries)
    await conn.execute(Introduction.__table__.insert(), introductions)


def _literal(value: Any) -> str:
    """A parameter as an SQL literal, for EXECUTE of a statement prepared in SQL."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        value = value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


PAGES = re.compile(r"Buffers: shared hit=(\d+)(?: read=(\d+))?")


def _pages(plan: str) -> int:
    """The pages the top node of an EXPLAIN (ANALYZE, BUFFERS) read."""
    found = PAGES.search(plan)
    assert found, plan
    return int(found[1]) + int(found[2] or 0)


async def _pages_generic_and_custom(
    raw: Any, statement: str, parameters: list[Any]
) -> tuple[int, int, str]:
    """The pages read by the statement's generic plan and by the plan made for its values,
    each run once, prepared in SQL as the driver prepares it."""
    await raw.execute(f"PREPARE agenda_probe AS {statement}")
    try:
        literals = ", ".join(_literal(value) for value in parameters)
        read = {}
        for mode in ("force_generic_plan", "force_custom_plan"):
            await raw.execute(f"SET plan_cache_mode = {mode}")
            rows = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE agenda_probe({literals})")
            read[mode] = "\n".join(row[0] for row in rows)
    finally:
        await raw.execute("RESET plan_cache_mode")
        await raw.execute("DEALLOCATE agenda_probe")
    generic = read["force_generic_plan"]
    return _pages(generic), _pages(read["force_custom_plan"]), generic


@pytest.mark.postgres
async def test_every_kind_of_the_agenda_reads_an_index_on_a_large_network(
    app, client, owner, monkeypatch
):
    conn = app.state.sessionmaker.kw["bind"]
    await _network(conn, owner.owner_id)
    captured: list[tuple[str, Any]] = []

    def keep(statement: str, parameters: Any) -> None:
        if any(f" {table} " in statement or f"{table}." in statement for table in BIG_TABLES):
            captured.append((statement, list(parameters)))

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        keep(statement, parameters)

    # The kinds' statements run on the driver's connection (app/core/reads.py), the rest
    # through SQLAlchemy: both are caught.
    fetch = reads._fetch

    async def fetch_and_keep(connection: Any, sql: str, args: list[Any], *rest: Any) -> Any:
        keep(sql, args)
        return await fetch(connection, sql, args, *rest)

    monkeypatch.setattr(reads, "_fetch", fetch_and_keep)
    sync = conn.sync_connection
    event.listen(sync, "before_cursor_execute", grab)
    try:
        for kind in AgendaKind:
            first = await client.get(
                "/v1/agenda", params={"kind": kind.value, "limit": 50}, headers=owner.headers
            )
            assert first.status_code == 200, first.text
            cursor = first.json()["next_cursor"]
            if kind.value != "give":
                # The network has more than a page of each kind (give comes from needs and
                # offers, which it does not have).
                assert cursor, kind
            if cursor:
                second = await client.get(
                    "/v1/agenda",
                    params={"kind": kind.value, "limit": 50, "cursor": cursor},
                    headers=owner.headers,
                )
                assert second.status_code == 200, second.text
        everything = await client.get("/v1/agenda", headers=owner.headers)
        assert everything.status_code == 200
    finally:
        event.remove(sync, "before_cursor_execute", grab)

    # Every kind's statement, a first page and the next (give's is the kept suggestions').
    assert len(captured) >= 2 * (len(AgendaKind) - 1), captured
    raw = (await conn.get_raw_connection()).driver_connection
    for statement, parameters in captured:
        if KEPT in statement:
            continue
        rows = await raw.fetch("EXPLAIN " + statement, *parameters)
        plan = "\n".join(row[0] for row in rows)
        for table in BIG_TABLES:
            assert f"Seq Scan on {table}" not in plan, (statement, plan)
        if _windowed(statement):
            continue
        assert not any(FULL_SORT.search(line.strip()) for line in plan.splitlines()), (
            statement,
            plan,
        )
    for statement, parameters in captured:
        if KEPT in statement:
            continue
        generic, custom, plan = await _pages_generic_and_custom(raw, statement, parameters)
        assert generic <= GENERIC_SLACK * custom + GENERIC_EXTRA_PAGES, (statement, plan)
