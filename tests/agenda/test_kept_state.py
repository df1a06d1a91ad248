"""What each worker keeps of an owner's (app/agenda/hidden.py, app/agenda/service.py): the
hidden items, read again exactly when the owner's agenda_version moved, and the rules,
checked against the versions the kinds' rows bring. A change made through another worker
(or this one) shows on the next read, whether the agenda has rows to tell or is empty."""

from datetime import timedelta

from sqlalchemy import update

from app.agenda.hidden import hidden_items
from app.agenda.models import AgendaItemState
from app.auth.models import Owner
from app.core.reads import Reader
from app.core.types import utcnow
from tests.agenda.test_agenda import agenda, ago, of_kind, overdue_contact, post, settings
from tests.factories import create_contact


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


async def received_days_ago(client, owner, days: float) -> dict:
    """Help received from a contact given plenty before: thanks owed, no balance to restore."""
    contact = await create_contact(client, owner, display_name="Grace", external_refs={})
    body = {"contact_id": contact["id"], "kind": "advice"}
    await post(
        client,
        owner,
        "/v1/ledger",
        {**body, "direction": "gave", "weight": 5, "occurred_at": ago(days + 10)},
    )
    return await post(
        client,
        owner,
        "/v1/ledger",
        {**body, "direction": "received", "weight": 1, "occurred_at": ago(days)},
    )


async def test_new_rules_apply_on_the_next_read_when_the_agenda_has_rows(client, owner):
    await settings(client, owner, reciprocity_ratio=1)
    await received_days_ago(client, owner, 4)
    assert len(of_kind(await agenda(client, owner), "thanks_owed")) == 1  # kept: a week
    await settings(client, owner, thanks_window_days=2)
    # Read with the kept rules, the entry would still be owed thanks: its row brings the
    # new settings version, and the agenda is computed again with the new window.
    assert of_kind(await agenda(client, owner), "thanks_owed") == []


async def test_new_rules_apply_on_the_next_read_of_an_empty_agenda(client, owner):
    await settings(client, owner, thanks_window_days=2, reciprocity_ratio=1)
    await received_days_ago(client, owner, 4)
    assert await agenda(client, owner) == []  # kept: two days, and no rows to tell
    await settings(client, owner, thanks_window_days=7)
    assert len(of_kind(await agenda(client, owner), "thanks_owed")) == 1
