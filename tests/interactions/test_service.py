"""log_interaction moves its contact's last interaction and due date in the one UPDATE that
records it (app/contacts/service.py, `touch_interaction`), with SQL date arithmetic spelled
per database (app/core/sql.py, `plus_days`). Whatever the contact held, the row it leaves
must be what the Python rule (`contacts.service.due_at`) says, to the microsecond, on SQLite
and on PostgreSQL; and an absent, erased or archived contact is told apart and left as it
was, with nothing written."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts.models import Contact
from app.contacts.service import ContactNotFound, due_at
from app.core.errors import ContactArchived
from app.core.outbox import Event
from app.interactions.models import Interaction
from app.interactions.schemas import InteractionCreate
from app.interactions.service import log_interaction
from tests.factories import Actor, contact_row

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
BASE = datetime(2026, 3, 28, 22, 30, 15, 123456, tzinfo=UTC)  # a night before a DST change

# Microseconds from BASE, both ways, so that the fraction, the seconds and the date all move.
offsets = st.integers(-(10**13), 10**13).map(lambda us: BASE + timedelta(microseconds=us))
cadences = st.none() | st.just(0) | st.integers(1, 3650)


async def _state(session: AsyncSession, contact_id: str) -> tuple:
    columns = (Contact.last_interaction_at, Contact.due_at, Contact.version)
    return (await session.exec(select(*columns).where(Contact.id == contact_id))).one()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    last=st.none() | offsets,
    at=offsets,
    connected=st.none() | offsets,
    created=offsets,
    cadence=cadences,
)
@example(last=None, at=BASE, connected=None, created=BASE, cadence=1)
@example(last=BASE, at=BASE, connected=None, created=BASE, cadence=30)  # the same instant
@example(last=BASE + timedelta(days=1), at=BASE, connected=None, created=BASE, cadence=7)
async def test_the_update_leaves_what_the_python_rule_says(
    app: FastAPI, owner: Actor, last, at, connected, created, cadence
) -> None:
    async with app.state.sessionmaker() as session, session.begin_nested() as savepoint:
        row = contact_row(
            owner.owner_id,
            last_interaction_at=last,
            connected_at=connected,
            created_at=created,
            cadence_days=cadence,
            due_at=due_at(last, connected, created, cadence),
        )
        await session.exec(insert(CONTACTS).values(row))
        data = InteractionCreate(kind="call", occurred_at=at)
        await log_interaction(session, owner_id=owner.owner_id, contact_id=row["id"], data=data)
        latest = at if last is None or at > last else last
        expected = (latest, due_at(latest, connected, created, cadence), 2)
        assert await _state(session, row["id"]) == expected
        await savepoint.rollback()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"archived_at": BASE}, ContactArchived),
        ({"erased_at": BASE}, ContactNotFound),
        ({"owner": "other"}, ContactNotFound),
    ],
)
async def test_an_untouchable_contact_is_told_and_nothing_is_written(
    app: FastAPI, owner: Actor, other_owner: Actor, change, error
) -> None:
    change = dict(change)
    holder = other_owner if change.pop("owner", None) == "other" else owner
    async with app.state.sessionmaker() as session, session.begin_nested() as savepoint:
        row = contact_row(holder.owner_id, cadence_days=7, **change)
        await session.exec(insert(CONTACTS).values(row))
        before = await _state(session, row["id"])
        counts = [select(func.count()).select_from(t) for t in (Interaction, Event)]
        written = [(await session.exec(count)).one() for count in counts]
        with pytest.raises(error):
            await log_interaction(
                session,
                owner_id=owner.owner_id,
                contact_id=row["id"],
                data=InteractionCreate(kind="call", occurred_at=BASE),
            )
        assert await _state(session, row["id"]) == before
        assert [(await session.exec(count)).one() for count in counts] == written
        await savepoint.rollback()


async def test_a_contact_that_does_not_exist_is_not_found(app: FastAPI, owner: Actor) -> None:
    async with app.state.sessionmaker() as session:
        with pytest.raises(ContactNotFound):
            await log_interaction(
                session,
                owner_id=owner.owner_id,
                contact_id="ct_nobody",
                data=InteractionCreate(kind="call"),
            )
