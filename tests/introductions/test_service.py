"""The anti-pestering rules, where they live: the service, called on the test's session.

tests/introductions/test_routes.py shows each rule refusing over HTTP; these show where each
one ends, which needs the clock moved on (a decline, a consent link) and so a session.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service as contacts
from app.contacts.models import Contact
from app.contacts.schemas import ContactCreate
from app.core.types import utcnow
from app.introductions import consent, service
from app.introductions.models import Introduction
from app.introductions.schemas import IntroductionCreate
from app.settings.service import get_rules
from tests.factories import Actor


@pytest.fixture
async def session(app: FastAPI, db: None) -> AsyncIterator[AsyncSession]:
    async with app.state.sessionmaker() as session:
        yield session


async def person(session: AsyncSession, owner: Actor, name: str) -> Contact:
    return await contacts.create_contact(
        session, owner_id=owner.owner_id, data=ContactCreate(display_name=name)
    )


async def ask(
    session: AsyncSession, owner: Actor, requester: Contact, target: Contact
) -> Introduction:
    data = IntroductionCreate(
        requester_id=requester.id,
        target_id=target.id,
        reason="Wants advice on a seed round",
        benefit_to_target="An early look at a strong team",
    )
    return await service.create_introduction(session, owner_id=owner.owner_id, data=data)


async def test_a_declined_pair_can_be_asked_again_once_the_cooldown_has_passed(session, owner):
    rita, theo, tess = [await person(session, owner, name) for name in ("Rita", "Theo", "Tess")]
    declined = await ask(session, owner, rita, theo)
    await consent.record_decision(
        session, intro=declined, accept=False, via="owner", evidence="Said no thanks"
    )
    rules = await get_rules(session, owner_id=owner.owner_id)
    cooldown = timedelta(days=rules.decline_cooldown_days)

    # A day before the cooldown ends, the same ask is refused, saying when it may be made.
    declined.decided_at = utcnow() - cooldown + timedelta(days=1)
    await session.flush()
    with pytest.raises(service.DeclineCooldown) as refused:
        await ask(session, owner, rita, theo)
    assert refused.value.extra["retry_after"] == (declined.decided_at + cooldown).isoformat()
    # Theo said no to Rita, not to everyone.
    await ask(session, owner, tess, theo)

    declined.decided_at = utcnow() - cooldown - timedelta(days=1)
    await session.flush()
    again = await ask(session, owner, rita, theo)
    assert again.state == "requested"


async def test_lapsed_consent_requests_do_not_count_against_the_cap(session, owner):
    rules = await get_rules(session, owner_id=owner.owner_id)
    theo = await person(session, owner, "Theo")
    pending = []
    for n in range(rules.max_pending_consents_per_target):
        intro = await ask(session, owner, await person(session, owner, f"Requester {n}"), theo)
        await consent.request_consent(session, intro=intro, rules=rules)
        pending.append(intro)
    one_more = await ask(session, owner, await person(session, owner, "Rita"), theo)
    with pytest.raises(consent.TooManyPendingConsents):
        await consent.request_consent(session, intro=one_more, rules=rules)
    assert one_more.state == "requested"

    # Theo ignored the first link until it lapsed: that is not an answer still to come.
    pending[0].consent_expires_at = utcnow() - timedelta(minutes=1)
    await session.flush()
    await consent.request_consent(session, intro=one_more, rules=rules)
    assert (pending[0].state, one_more.state) == ("expired", "awaiting_consent")
