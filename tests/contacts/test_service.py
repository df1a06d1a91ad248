"""External references are unique per owner and system: the rule where it lives, the
service, called on the test's session.

tests/contacts/test_routes.py covers a clash between two requests; these cover a batch
(imports create contacts many at a time) and a sync that sends a contact's refs again.
"""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service
from app.contacts.schemas import ContactCreate, ContactUpdate


@pytest.fixture
async def session(app: FastAPI, db: None) -> AsyncIterator[AsyncSession]:
    async with app.state.sessionmaker() as session:
        yield session


async def test_one_batch_cannot_give_an_external_ref_to_two_contacts(session, owner):
    twins = [
        ContactCreate(display_name=name, external_refs={"hubspot": "42"})
        for name in ("Ada", "Ada L.")
    ]
    with pytest.raises(service.ExternalRefTaken):
        await service.create_contacts(session, owner_id=owner.owner_id, items=twins)


async def test_sending_a_contacts_own_external_refs_again_is_not_a_clash(session, owner):
    ada = await service.create_contact(
        session,
        owner_id=owner.owner_id,
        data=ContactCreate(display_name="Ada", external_refs={"hubspot": "42"}),
    )
    # What a CRM sync sends on every run: the whole record, refs included, plus a new one.
    refs = {"hubspot": "42", "salesforce": "7"}
    updated = await service.update_contact(
        session, contact=ada, changes=ContactUpdate(display_name="Ada", external_refs=refs)
    )
    assert updated.external_refs == refs
    with pytest.raises(service.ExternalRefTaken) as taken:
        await service.create_contact(
            session,
            owner_id=owner.owner_id,
            data=ContactCreate(display_name="Someone else", external_refs={"salesforce": "7"}),
        )
    assert ada.id in str(taken.value)
