from sqlmodel import select

from app.core.outbox import Event, record_event
from app.core.unit_of_work import commit


async def test_events_wait_for_the_real_commit_not_a_savepoint(app, owner):
    async with app.state.sessionmaker() as session:
        nested = await session.begin_nested()
        record_event(
            session,
            owner_id=owner.owner_id,
            type="contact.updated",
            resource="contact",
            resource_id="ct_x",
            data={},
        )
        await nested.commit()
        seen = (await session.exec(select(Event).where(Event.resource_id == "ct_x"))).all()
        assert seen == []
        await commit(session)
    async with app.state.sessionmaker() as session:
        seen = (await session.exec(select(Event).where(Event.resource_id == "ct_x"))).all()
    assert len(seen) == 1
