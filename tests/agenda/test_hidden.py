"""The hidden items each worker keeps (app/agenda/hidden.py): read again exactly when the
owner's agenda_version moved, so a snooze or dismissal made through another worker shows on
the next read here."""

from datetime import timedelta

from sqlalchemy import update

from app.agenda.hidden import hidden_items
from app.agenda.models import AgendaItemState
from app.auth.models import Owner
from app.core.reads import Reader
from app.core.types import utcnow
from tests.agenda.test_agenda import agenda, of_kind, overdue_contact


async def test_a_dismissal_committed_by_another_worker_is_seen_on_the_next_read(app, client, owner):
    await overdue_contact(client, owner)
    [item] = of_kind(await agenda(client, owner), "touch_overdue")  # this worker keeps 0
    # What POST /v1/agenda/{id}/dismiss does in another process: the row, and the version.
    conn = app.state.sessionmaker.kw["bind"]
    await conn.execute(
        AgendaItemState.__table__.insert().values(
            owner_id=owner.owner_id, item_id=item["id"], until=None, created_at=utcnow()
        )
    )
    await conn.execute(
        update(Owner)
        .where(Owner.id == owner.owner_id)
        .values(agenda_version=Owner.agenda_version + 1)
    )
    assert of_kind(await agenda(client, owner), "touch_overdue") == []


async def test_the_kept_items_are_read_again_only_when_the_version_moves(app, client, owner):
    await overdue_contact(client, owner)
    [item] = of_kind(await agenda(client, owner), "touch_overdue")
    until = utcnow() + timedelta(days=1)
    response = await client.post(
        f"/v1/agenda/{item['id']}/snooze", json={"until": until.isoformat()}, headers=owner.headers
    )
    assert response.status_code == 200, response.text

    statements = []

    class Counting(Reader):
        async def rows(self, statement, params, **options):
            statements.append(statement)
            return await super().rows(statement, params, **options)

    reader = Counting(app.state.sessionmaker.kw["bind"])
    version = 1  # one snooze
    first = await hidden_items(reader, owner_id=owner.owner_id, version=version)
    assert first.snoozed_until(item["id"], utcnow()) is not None
    before = len(statements)
    again = await hidden_items(reader, owner_id=owner.owner_id, version=version)
    assert again is first and len(statements) == before
    moved = await hidden_items(reader, owner_id=owner.owner_id, version=version + 1)
    assert len(statements) == before + 1 and moved.version == version + 1
    assert moved.hides(item["id"], utcnow()) and not moved.hides(item["id"], until)
