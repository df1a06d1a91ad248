"""The agenda items an owner has hidden (snoozed or dismissed), kept by each worker
(docs/decisions/2026-12-07-agenda-hidden-items-kept.md).

Every read of the agenda (and of a calendar feed) needs to know which of its items the owner
hid; asking the database on every read was a round trip of its own. The owner's row carries
`agenda_version`, one more on every snooze and dismissal (`bump`, under the owner's lock),
and every statement of the agenda reads it (app/agenda/service.py). A worker keeps the
owner's hidden items with the version they were read at, and reads them again only when
the version it is given differs: another worker's snooze changes the version, so no worker
answers from hidden items older than the version it was given (the items are read after
the version, so they are at least as new).

Dismissed ids pile up over a long use (most name occurrences long gone); what a worker
keeps is bounded in ids across owners (`MAX_KEPT_IDS`, least recently used first out). An
owner with more hidden ids than that is read afresh each time: correct, only slower.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import LRUCache
from sqlalchemy import bindparam, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.agenda.models import AgendaItemState
from app.auth.models import Owner
from app.core.reads import Reader

# Hidden item ids kept per worker, across owners: about 150 bytes each.
MAX_KEPT_IDS = 100_000


@dataclass(frozen=True)
class Hidden:
    """An owner's hidden items: id -> until (None: dismissed for good)."""

    version: int
    until: Mapping[str, datetime | None]

    def hides(self, item_id: str, moment: datetime) -> bool:
        """Whether the item is dismissed, or snoozed past `moment`."""
        if item_id not in self.until:
            return False
        until = self.until[item_id]
        return until is None or until > moment

    def snoozed_until(self, item_id: str, moment: datetime) -> datetime | None:
        """Until when the item is snoozed, if that is after `moment`."""
        until = self.until.get(item_id)
        return until if until is not None and until > moment else None


_kept: LRUCache[str, Hidden] = LRUCache(
    maxsize=MAX_KEPT_IDS, getsizeof=lambda hidden: max(1, len(hidden.until))
)

_ITEMS = select(AgendaItemState.item_id, AgendaItemState.until).where(
    AgendaItemState.owner_id == bindparam("owner_id")
)


async def hidden_items(reader: Reader, *, owner_id: str, version: int) -> Hidden:
    """The owner's hidden items as of `version` (their owner row's `agenda_version`)."""
    kept = _kept.get(owner_id)
    if kept is not None and kept.version == version:
        return kept
    rows = await reader.rows(_ITEMS, {"owner_id": owner_id})
    hidden = Hidden(version, {row["item_id"]: row["until"] for row in rows})
    try:
        _kept[owner_id] = hidden
    except ValueError:  # more ids than a worker keeps for all owners together
        _kept.pop(owner_id, None)
    return hidden


async def bump(session: AsyncSession, owner_id: str) -> None:
    """Say that the owner's hidden items changed, in the transaction that changes them."""
    statement: Any = (
        update(Owner)
        .where(col(Owner.id) == owner_id)
        .values(agenda_version=col(Owner.agenda_version) + 1)
    )
    await session.exec(statement)
