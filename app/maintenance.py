"""Periodic upkeep that each replica runs in the background. Every job is safe to run in
several replicas at once and is also done on demand where it matters (expiry on read)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import idempotency
from app.core.config import Settings
from app.core.db import SessionMaker
from app.core.unit_of_work import session_scope
from app.events import worker as webhook_worker
from app.introductions.service import expire_due

log = logging.getLogger("goodwill.maintenance")

Job = Callable[[AsyncSession], Awaitable[int]]


async def _every(name: str, seconds: float, job: Job, sessionmaker: SessionMaker) -> None:
    while True:
        try:
            async with session_scope(sessionmaker) as session:
                done = await job(session)
            if done:
                log.info("maintenance", extra={"job": name, "count": done})
        except Exception:
            log.warning("maintenance job failed; will retry", extra={"job": name}, exc_info=True)
        await asyncio.sleep(seconds)


def start(settings: Settings, sessionmaker: SessionMaker) -> list[asyncio.Task[None]]:
    ttl = timedelta(hours=settings.idempotency_ttl_hours)

    async def purge_idempotency(session: AsyncSession) -> int:
        return await idempotency.purge_expired(session, ttl)

    jobs: list[tuple[str, float, Job]] = [
        ("purge_idempotency_records", 3600, purge_idempotency),
        ("expire_consent_requests", 60, expire_due),
    ]
    tasks = [
        asyncio.create_task(_every(name, seconds, job, sessionmaker)) for name, seconds, job in jobs
    ]
    if webhook_worker.runs_in_process(settings):
        tasks.append(asyncio.create_task(webhook_worker.run_in_process(settings, sessionmaker)))
    return tasks
