"""The webhook worker: `goodwill worker` (any number of copies on PostgreSQL), or a task
inside `goodwill serve` (on SQLite by default, so the embedded setup needs no second command).

Each pass is bounded: at most FANOUT_SUBSCRIPTIONS subscriptions fanned out and
GOODWILL_WEBHOOK_CONCURRENCY deliveries attempted, each within GOODWILL_WEBHOOK_TIMEOUT_SECONDS.
A stop request (SIGTERM, SIGINT) lets the pass under way finish, then the worker exits.
"""

import asyncio
import logging
import signal
from contextlib import suppress
from datetime import timedelta

import httpx

from app.core.config import Settings
from app.core.db import SessionMaker, create_engine, create_sessionmaker
from app.core.logging import configure_logging
from app.core.unit_of_work import session_scope
from app.events import delivery
from app.events.targets import Resolver, SystemResolver

log = logging.getLogger("goodwill.webhooks")

DRAIN_PASSES = 10_000  # `--once`: far more than any backlog needs, but never endless


def runs_in_process(settings: Settings) -> bool:
    """Unless GOODWILL_WEBHOOK_WORKER_IN_PROCESS says otherwise: on SQLite only."""
    if settings.webhook_worker_in_process is not None:
        return settings.webhook_worker_in_process
    return settings.is_sqlite


def new_client(settings: Settings) -> httpx.AsyncClient:
    # No proxies from the environment: a proxy would connect to the host by itself, around
    # the address check in app/events/targets.py.
    return httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=settings.webhook_concurrency * 2),
    )


class Worker:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: SessionMaker,
        client: httpx.AsyncClient,
        resolver: Resolver,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.client = client
        self.resolver = resolver
        self.lease = timedelta(
            seconds=settings.webhook_timeout_seconds + delivery.LEASE_MARGIN_SECONDS
        )

    async def run_once(self) -> int:
        """One pass: fan out, then attempt what is due. Returns how much it did (0: idle)."""
        async with self.sessionmaker() as session:
            if not await delivery.has_work(session):
                return 0
        async with session_scope(self.sessionmaker) as session:
            fanned = await delivery.fan_out(session)
        async with session_scope(self.sessionmaker) as session:
            claims = await delivery.claim(
                session, limit=self.settings.webhook_concurrency, lease=self.lease
            )
        outcomes = await asyncio.gather(
            *(
                delivery.send(self.client, self.resolver, claim, settings=self.settings)
                for claim in claims
            )
        )
        for claim, outcome in zip(claims, outcomes, strict=True):
            # One transaction each: a failure to record one attempt leaves the others
            # recorded; the unrecorded one is claimed again after its lease.
            async with session_scope(self.sessionmaker) as session:
                await delivery.record(session, claim, outcome, self.settings)
        return fanned + len(claims)

    async def drain(self, max_passes: int = DRAIN_PASSES) -> int:
        """Passes until nothing is due right now (retries scheduled later stay scheduled)."""
        total = 0
        for _ in range(max_passes):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total

    async def run(self, stop: asyncio.Event) -> None:
        log.info("webhook worker started")
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.warning("webhook worker pass failed; will retry", exc_info=True)
                done = 0
            if not done:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.webhook_poll_seconds)
        log.info("webhook worker stopped")


async def run_in_process(settings: Settings, sessionmaker: SessionMaker) -> None:
    """The worker as a task of `goodwill serve`, until the server cancels it at shutdown
    (a delivery cut short then is attempted again after its lease)."""
    async with new_client(settings) as client:
        await Worker(settings, sessionmaker, client, SystemResolver()).run(asyncio.Event())


async def run_standalone(settings: Settings, *, once: bool = False) -> int:
    """`goodwill worker`: its own engine and client; SIGTERM or SIGINT stops it cleanly."""
    configure_logging(settings)
    engine = create_engine(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with new_client(settings) as client:
            worker = Worker(settings, create_sessionmaker(engine), client, SystemResolver())
            if once:
                return await worker.drain()
            await worker.run(stop)
            return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await engine.dispose()
