"""Answers a worker keeps while the owner's data they were computed from is unchanged.

Warm paths and suggestions read much of an owner's data (relationships, contacts, balances,
needs and offers, introductions) and nothing else: the same question asked again, with
nothing written since, has the same answer. Every write to an owner's data records an event
in its transaction (app/core/outbox.py; tests/test_conventions_matrix.py checks that every
write endpoint moves the version), and events become visible in `seq` order, so the owner's
greatest event `seq` with their settings' version names the data an answer was computed
from. An answer is kept with them
and given again while both are the same, at most `seconds` (time alone may change an answer:
a cooldown ending), the least recently used forgotten past `most`. Reading the two is one
index probe per request.

The version is read before the answer is computed: a write committed in between may be in
the answer, which is then kept under the older version and computed again next time. An
answer is never older than the version it is kept under
(docs/decisions/2026-12-07-warm-paths-and-suggestions.md).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cachetools import LRUCache
from sqlalchemy import bindparam
from sqlmodel import select

from app.core.outbox import FEED_POSITION
from app.core.reads import Reader
from app.settings.models import OwnerSettings

T = TypeVar("T")

# What changes whenever the owner's data does: built once, one prepared statement.
_VERSION = select(
    FEED_POSITION.label("last_event"),
    select(OwnerSettings.version)
    .where(OwnerSettings.owner_id == bindparam("owner_id"))
    .scalar_subquery()
    .label("settings"),
)


async def data_version(reader: Reader, owner_id: str) -> tuple[Any, ...]:
    """The version of the owner's data: their latest event, and their settings' version."""
    (row,) = await reader.rows(_VERSION, {"owner_id": owner_id})
    return (row["last_event"], row["settings"])


@dataclass(frozen=True)
class _Kept(Generic[T]):
    version: tuple[Any, ...]
    until: float
    answer: T


class KeptAnswers(Generic[T]):
    """Answers by owner and question, each kept while the owner's data version holds."""

    def __init__(self, *, most: int, seconds: float) -> None:
        self.seconds = seconds
        self._kept: LRUCache[tuple[str, Hashable], _Kept[T]] = LRUCache(maxsize=most)
        self._computing: dict[tuple[str, Hashable], asyncio.Lock] = {}

    def _valid(self, key: tuple[str, Hashable], version: tuple[Any, ...]) -> _Kept[T] | None:
        kept = self._kept.get(key)
        if kept is None or kept.version != version or kept.until <= time.monotonic():
            return None
        return kept

    async def get(
        self,
        reader: Reader,
        owner_id: str,
        question: Hashable,
        compute: Callable[[], Awaitable[T]],
    ) -> T:
        """The answer to the owner's `question`: kept, or `compute`d now (and kept). An
        exception from `compute` is raised and nothing is kept."""
        key = (owner_id, question)
        version = await data_version(reader, owner_id)
        kept = self._valid(key, version)
        if kept is not None:
            return kept.answer
        # One computation at a time per question: requests arriving together wait for the first.
        lock = self._computing.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                kept = self._valid(key, version)
                if kept is None:
                    kept = _Kept(version, time.monotonic() + self.seconds, await compute())
                    self._kept[key] = kept
        finally:
            if not lock.locked():
                self._computing.pop(key, None)
        return kept.answer
