"""The list's reciprocity filters and its goodwill sort are the rules of
app.core.reciprocity applied to columns (app/contacts/listing.py). Whatever the totals and
the ratio, the database must then pick and order the contacts exactly as the Python rules
do: on SQLite and on PostgreSQL, through the statements and the Reader the API itself uses."""

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from app.contacts.listing import ContactFilters, list_contacts
from app.contacts.models import Contact
from app.contacts.schemas import ContactSort
from app.core.reads import Reader
from app.core.reciprocity import Flag, contact_reciprocity, goodwill, is_stale
from app.core.types import utcnow
from app.settings.models import OwnerSettings
from app.settings.schemas import DEFAULTS
from tests.factories import Actor, contact_row

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
SETTINGS = OwnerSettings.__table__  # type: ignore[attr-defined]

# Small totals reach the edges (no withdrawals, exactly `ratio` deposits, a balance of 0);
# large ones the arithmetic (ratio x withdrawals stays within PostgreSQL's integer).
totals = st.integers(0, 60) | st.integers(0, 10**6)
# Hours from now, never 0: the query and the check read the clock a moment apart.
due = st.none() | st.integers(-5000, 5000).filter(bool)
contacts = st.lists(st.tuples(totals, totals, due), min_size=1, max_size=8)
ratios = st.integers(1, 50)


async def _seed(bind: Any, owner_id: str, people: list[tuple[int, int, int | None]], ratio: int):
    now = utcnow()
    await bind.execute(delete(SETTINGS).where(SETTINGS.c.owner_id == owner_id))
    await bind.execute(
        insert(SETTINGS),
        {
            **DEFAULTS,
            "owner_id": owner_id,
            "reciprocity_ratio": ratio,
            "version": 1,
            "updated_at": now,
        },
    )
    rows = [
        contact_row(
            owner_id,
            display_name=f"p{n}",
            search_text=f"p{n}",
            due_at=None if hours is None else now + timedelta(hours=hours),
            ledger_deposits=deposits,
            ledger_withdrawals=withdrawals,
            created_at=now,
        )
        for n, (deposits, withdrawals, hours) in enumerate(people)
    ]
    await bind.execute(insert(CONTACTS), rows)
    return rows


async def _listed(reader: Reader, owner_id: str, sort: ContactSort, **filters: Any):
    rows, _, _ = await list_contacts(
        reader,
        owner_id=owner_id,
        filters=ContactFilters(**filters),
        sort=sort,
        limit=100,
        cursor=None,
    )
    return rows


async def _check(bind: Any, owner_id: str, people: list, ratio: int) -> None:
    reader = Reader(bind)
    savepoint = await bind.begin_nested()
    try:
        rows = await _seed(bind, owner_id, people, ratio)
        now = utcnow()
        ids = sorted(row["id"] for row in rows)
        flags = {row["id"]: set(contact_reciprocity(row, ratio, now)["flags"]) for row in rows}
        for chosen in [{flag} for flag in Flag] + [set(Flag), {Flag.one_sided, Flag.overdrawn}]:
            listed = await _listed(
                reader, owner_id, ContactSort.created_at, flags=frozenset(chosen)
            )
            expected = [i for i in ids if chosen <= flags[i]]
            assert [r["id"] for r in listed] == expected, (chosen, rows)
        for stale in (True, False):
            listed = await _listed(reader, owner_id, ContactSort.created_at, stale=stale)
            expected = [r["id"] for r in rows if is_stale(r["due_at"], now) == stale]
            assert [r["id"] for r in listed] == sorted(expected), (stale, rows)
        balance = {
            r["id"]: goodwill(r["ledger_deposits"], r["ledger_withdrawals"], ratio) for r in rows
        }
        for sort, descending in [(ContactSort.goodwill, False), (ContactSort.goodwill_desc, True)]:
            listed = await _listed(reader, owner_id, sort)
            expected = sorted(ids, key=lambda i: (balance[i], i), reverse=descending)
            assert [r["id"] for r in listed] == expected, (sort, rows)
            assert all(r["sort_value"] == balance[r["id"]] for r in listed)
            assert all(r["ratio"] == ratio for r in listed)
    finally:
        await savepoint.rollback()


async def test_list_filters_and_sort_agree_with_the_python_rules(owner: Actor, app: FastAPI):
    bind = app.state.sessionmaker.kw["bind"]  # the test's connection, rolled back after
    loop = asyncio.get_running_loop()

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(contacts, ratios)
    @example([(7, 0, None), (6, 0, -1), (0, 0, 1), (14, 2, None), (13, 2, -3)], 7)
    @example([(1, 0, None), (0, 1, None), (1, 1, -1)], 1)
    @example([(10**6, 10**6, None), (50 * 10**6, 10**6, 1), (0, 10**6, -1)], 50)
    def check(people: list, ratio: int) -> None:
        # Hypothesis drives from a worker thread; the statements run on the test's own
        # loop, where the test's connection lives.
        future = asyncio.run_coroutine_threadsafe(_check(bind, owner.owner_id, people, ratio), loop)
        future.result(timeout=60)

    await asyncio.to_thread(check)
