"""Exports, streamed: rows are read a page at a time by keyset (`id > last`), turned into
bytes and sent, so an owner with 100,000 contacts never sits in memory whole.

The response outlives the request's own transaction (the unit of work commits it when
the handler returns, before the body is sent), so the stream reads through a session of its
own, opened when the body starts and closed when it ends or the client goes away. On
PostgreSQL that session is one REPEATABLE READ, READ ONLY transaction: every page comes from
the same snapshot, so an export taken during writes is still consistent (no ledger entry
whose contact is missing, no contact counted twice). On SQLite one read transaction in WAL
mode gives the same. A slow client holds that connection for as long as it reads.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import and_
from sqlalchemy.orm import aliased
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.models import ApiKey, Owner
from app.auth.schemas import ApiKeyRead
from app.contacts.models import Contact
from app.contacts.service import contact_document
from app.core.db import SessionMaker, begin_snapshot
from app.core.responses import dumps
from app.core.types import utcnow
from app.interactions.models import Interaction
from app.interactions.service import to_read as interaction_read
from app.introductions.models import Introduction, IntroductionEvent
from app.introductions.schemas import TimelineEventRead
from app.introductions.service import introduction_document
from app.ledger.models import LedgerEntry
from app.ledger.service import to_read as entry_read
from app.portability.schemas import IntroductionExport, OwnerExport
from app.portability.vcard_write import card
from app.relationships.models import Relationship
from app.relationships.service import to_read as relationship_read
from app.reminders.models import Reminder
from app.reminders.service import to_read as reminder_read
from app.settings.service import get_rules

PAGE = 500
T = TypeVar("T", bound=SQLModel)
_Reversal = aliased(LedgerEntry)


@asynccontextmanager
async def snapshot(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        await begin_snapshot(session)
        try:
            yield session
        finally:
            await session.rollback()


async def _pages(
    session: AsyncSession, model: type[T], owner_id: str, *filters: Any
) -> AsyncIterator[list[T]]:
    last = ""
    while True:
        query = (
            select(model)
            .where(model.owner_id == owner_id, col(model.id) > last, *filters)  # type: ignore[attr-defined]
            .order_by(col(model.id))  # type: ignore[attr-defined]
            .limit(PAGE)
        )
        rows = list((await session.exec(query)).all())
        if not rows:
            return
        yield rows
        session.expunge_all()  # what was sent is not kept
        last = rows[-1].id  # type: ignore[attr-defined]
        if len(rows) < PAGE:
            return


def _array(first: bool, items: list[bytes]) -> bytes:
    body = b",".join(items)
    return body if first or not body else b"," + body


async def _json_array(
    name: str, pages: AsyncIterator[list[Any]], encode: Callable[[Any], bytes]
) -> AsyncIterator[bytes]:
    yield b',"' + name.encode() + b'":['
    first = True
    async for rows in pages:
        yield _array(first, [encode(row) for row in rows])
        first = False
    yield b"]"


async def export_json(sessionmaker: SessionMaker, owner_id: str) -> AsyncIterator[bytes]:
    async with snapshot(sessionmaker) as session:
        owner = (await session.exec(select(Owner).where(Owner.id == owner_id))).one()
        rules = await get_rules(session, owner_id=owner_id)
        keys = (
            await session.exec(
                select(ApiKey).where(ApiKey.owner_id == owner_id).order_by(col(ApiKey.id))
            )
        ).all()
        head = {
            "format": "goodwill-export",
            "version": 1,
            "exported_at": utcnow(),
            "owner": OwnerExport.model_validate(owner, from_attributes=True).model_dump(),
            "settings": rules.model_dump(),
            "api_keys": [
                ApiKeyRead.model_validate(k, from_attributes=True).model_dump() for k in keys
            ],
        }
        yield dumps(head)[:-1]  # the object stays open
        ratio, now = rules.reciprocity_ratio, utcnow()
        contacts = _pages(session, Contact, owner_id, col(Contact.erased_at).is_(None))
        async for chunk in _json_array(
            "contacts", contacts, lambda c: dumps(contact_document(c, ratio, now))
        ):
            yield chunk
        interactions = _pages(session, Interaction, owner_id)
        async for chunk in _json_array(
            "interactions", interactions, lambda i: interaction_read(i).model_dump_json().encode()
        ):
            yield chunk
        async for chunk in _json_array(
            "ledger_entries", _ledger_pages(session, owner_id), _entry_json
        ):
            yield chunk
        async for chunk in _json_array(
            "introductions",
            _introduction_pages(session, owner_id, rules),
            lambda i: i.model_dump_json().encode(),
        ):
            yield chunk
        reminders = _pages(session, Reminder, owner_id)
        async for chunk in _json_array(
            "reminders", reminders, lambda r: reminder_read(r).model_dump_json().encode()
        ):
            yield chunk
        relationships = _pages(session, Relationship, owner_id)
        async for chunk in _json_array(
            "relationships",
            relationships,
            lambda r: relationship_read(r).model_dump_json().encode(),
        ):
            yield chunk
        yield b"}\n"


def _entry_json(row: tuple[LedgerEntry, str | None]) -> bytes:
    entry, reversed_by = row
    return entry_read(entry, reversed_by).model_dump_json().encode()


async def _ledger_pages(
    session: AsyncSession, owner_id: str
) -> AsyncIterator[list[tuple[LedgerEntry, str | None]]]:
    last = ""
    while True:
        query = (
            select(LedgerEntry, _Reversal.id)
            .outerjoin(
                _Reversal,
                and_(
                    _Reversal.owner_id == LedgerEntry.owner_id,
                    _Reversal.reverses_id == LedgerEntry.id,
                ),
            )
            .where(LedgerEntry.owner_id == owner_id, col(LedgerEntry.id) > last)
            .order_by(col(LedgerEntry.id))
            .limit(PAGE)
        )
        rows = [(entry, reversed_by) for entry, reversed_by in (await session.exec(query)).all()]
        if not rows:
            return
        yield rows
        session.expunge_all()
        last = rows[-1][0].id
        if len(rows) < PAGE:
            return


async def _introduction_pages(
    session: AsyncSession, owner_id: str, rules: Any
) -> AsyncIterator[list[IntroductionExport]]:
    async for intros in _pages(session, Introduction, owner_id):
        events = (
            await session.exec(
                select(IntroductionEvent)
                .where(
                    IntroductionEvent.owner_id == owner_id,
                    col(IntroductionEvent.introduction_id).in_([i.id for i in intros]),
                )
                .order_by(
                    col(IntroductionEvent.introduction_id),
                    col(IntroductionEvent.occurred_at),
                    col(IntroductionEvent.id),
                )
            )
        ).all()
        timelines: dict[str, list[TimelineEventRead]] = {}
        for event in events:
            timelines.setdefault(event.introduction_id, []).append(
                TimelineEventRead.model_validate(event, from_attributes=True)
            )
        now = utcnow()
        yield [
            IntroductionExport(
                **introduction_document(intro, rules.follow_up_after_days, now),
                timeline=timelines.get(intro.id, []),
            )
            for intro in intros
        ]


async def export_vcards(sessionmaker: SessionMaker, owner_id: str) -> AsyncIterator[bytes]:
    async with snapshot(sessionmaker) as session:
        async for contacts in _pages(session, Contact, owner_id, col(Contact.erased_at).is_(None)):
            yield "".join(card(contact) for contact in contacts).encode()
