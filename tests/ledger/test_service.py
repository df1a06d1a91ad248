"""Ledger rules, where they live: the service, called on the test's session.

tests/ledger/test_routes.py covers what a client sends (entries, reversals and their 409s,
the clock slack of `occurred_at`, which is the schema's); this covers what only the service
writes: an introduction's deposit, and its reversal.
"""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service as contacts
from app.contacts.models import Contact
from app.contacts.schemas import ContactCreate
from app.introductions import service as introductions
from app.introductions.schemas import IntroductionCreate
from app.ledger import service as ledger
from app.ledger.schemas import Direction, EntryKind
from tests.factories import Actor


@pytest.fixture
async def session(app: FastAPI, db: None) -> AsyncIterator[AsyncSession]:
    async with app.state.sessionmaker() as session:
        yield session


async def person(session: AsyncSession, owner: Actor, name: str) -> Contact:
    return await contacts.create_contact(
        session, owner_id=owner.owner_id, data=ContactCreate(display_name=name)
    )


async def totals(session: AsyncSession, contact: Contact) -> tuple[int, int]:
    """The contact's running (deposits, withdrawals), as stored."""
    row = await session.exec(
        select(Contact.ledger_deposits, Contact.ledger_withdrawals).where(
            Contact.owner_id == contact.owner_id, Contact.id == contact.id
        )
    )
    deposits, withdrawals = row.one()
    return deposits, withdrawals


async def test_reversing_an_introductions_deposit_mirrors_it_and_zeroes_the_total(session, owner):
    rita, theo = await person(session, owner, "Rita"), await person(session, owner, "Theo")
    intro = await introductions.create_introduction(
        session,
        owner_id=owner.owner_id,
        data=IntroductionCreate(requester_id=rita.id, target_id=theo.id, reason="Advice"),
    )
    deposit = await ledger.record_deposit(
        session,
        owner_id=owner.owner_id,
        contact_id=rita.id,
        kind="introduction",
        weight=2,
        note="Introduced to Theo",
        introduction_id=intro.id,
    )
    assert await totals(session, rita) == (2, 0)

    reversal = await ledger.reverse_entry(
        session, owner_id=owner.owner_id, entry_id=deposit.id, note="Never happened"
    )
    assert (reversal.contact_id, reversal.direction, reversal.kind) == (
        rita.id,
        Direction.gave,
        EntryKind.introduction,
    )
    assert (reversal.weight, reversal.reverses_id) == (-2, deposit.id)
    # Erasing Theo finds the reversal by its introduction too, and blanks its note.
    assert reversal.introduction_id == intro.id
    assert await totals(session, rita) == (0, 0)
