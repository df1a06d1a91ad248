"""The unit of work (app/core/unit_of_work.py): what a request may write, when it commits,
and that every route runs in one."""

import pytest
from fastapi import APIRouter
from sqlalchemy import func, insert
from sqlmodel import col, select

from app.core.db import READ_ONLY, WriteInReadOnlyRequest
from app.core.outbox import EVENTS, Event, event_row, record_event
from app.core.principal import CurrentPrincipal
from app.core.unit_of_work import (
    EventsNotWritten,
    SessionDep,
    api_router,
    check_routes,
    writes,
)
from app.interactions.schemas import InteractionCreate
from app.interactions.service import log_interaction
from tests.core.test_http import client_for, sibling_app


def _probe_app(app):
    """The test app's sibling with three probe endpoints, made as every router is."""
    probes = api_router(prefix="/probe")

    async def note(session, principal, label: str) -> dict:
        record_event(
            session,
            owner_id=principal.owner_id,
            type="contact.updated",
            resource="contact",
            resource_id=label,
            data={},
        )
        await session.flush()
        return {"label": label}

    @probes.get("/sneaky")
    async def sneaky(principal: CurrentPrincipal, session: SessionDep) -> dict:
        session.add(Event(**_row(principal.owner_id, "ct_sneaky")))
        await session.flush()
        return {}

    @probes.get("/declared")
    @writes
    async def declared(principal: CurrentPrincipal, session: SessionDep) -> dict:
        return await note(session, principal, "ct_declared")

    # A POST that asks only for a read principal still has its Idempotency-Key honoured.
    @probes.post("/counted")
    async def counted(principal: CurrentPrincipal, session: SessionDep) -> dict:
        found = await session.exec(
            select(Event).where(col(Event.resource_id).startswith("ct_counted"))
        )
        return await note(session, principal, f"ct_counted_{len(found.all())}")

    other = sibling_app(app)
    other.include_router(probes)
    return other


def _row(owner_id: str, label: str) -> dict:
    return event_row(
        owner_id=owner_id, type="contact.updated", resource="contact", resource_id=label, data={}
    )


async def _labels(client, owner) -> list[str]:
    feed = await client.get("/v1/events", params={"limit": 200}, headers=owner.headers)
    return [e["resource_id"] for e in feed.json()["data"]]


async def test_a_get_that_writes_without_saying_so_fails_and_writes_nothing(app, db, owner):
    probe = _probe_app(app)
    async with client_for(probe) as client:
        answer = await client.get("/probe/sneaky", headers=owner.headers)
        assert answer.status_code == 500
        assert "ct_sneaky" not in await _labels(client, owner)


async def test_a_get_marked_writes_commits_its_events(app, db, owner):
    probe = _probe_app(app)
    async with client_for(probe) as client:
        answer = await client.get("/probe/declared", headers=owner.headers)
        assert answer.status_code == 200
        assert "ct_declared" in await _labels(client, owner)


async def test_every_post_honours_its_idempotency_key_whatever_it_depends_on(app, db, owner):
    probe = _probe_app(app)
    headers = {**owner.headers, "Idempotency-Key": "once"}
    async with client_for(probe) as client:
        first = await client.post("/probe/counted", headers=headers)
        again = await client.post("/probe/counted", headers=headers)
        fresh = await client.post("/probe/counted", headers=owner.headers)
    assert first.json() == again.json() == {"label": "ct_counted_0"}
    assert again.headers["idempotent-replayed"] == "true"
    assert fresh.json() == {"label": "ct_counted_1"}


async def test_events_are_never_committed_unwritten(app, db, owner):
    async with app.state.sessionmaker() as session:
        record_event(
            session,
            owner_id=owner.owner_id,
            type="contact.updated",
            resource="contact",
            resource_id="ct_lost",
            data={},
        )
        with pytest.raises(EventsNotWritten):
            await session.commit()


def test_a_route_made_outside_api_router_is_refused():
    plain = APIRouter()

    @plain.get("/plain")
    async def endpoint() -> dict:
        return {}

    with pytest.raises(TypeError, match="api_router"):
        check_routes(plain.routes)


async def test_a_read_only_request_is_refused_a_write_however_it_asks(app, db, owner):
    events = select(func.count()).select_from(Event).where(Event.owner_id == owner.owner_id)
    async with app.state.sessionmaker() as session:
        before = (await session.exec(events)).one()
        session.info[READ_ONLY] = True
        with pytest.raises(WriteInReadOnlyRequest):
            await session.exec(insert(EVENTS), params=[_row(owner.owner_id, "ct_core")])
        # The hot writes' one statement, which runs on the driver's connection on PostgreSQL.
        with pytest.raises(WriteInReadOnlyRequest):
            await log_interaction(
                session,
                owner_id=owner.owner_id,
                contact_id="ct_core",
                data=InteractionCreate(kind="call"),
            )
        assert (await session.exec(events)).one() == before
