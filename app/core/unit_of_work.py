"""One request, one transaction: the unit of work, committed before the response is sent.

Every route is a `UnitOfWorkRoute` (routers are made by `api_router()`, and `create_app` refuses
any other route). FastAPI's own handler runs each request; around it the unit of work, in
this order:

0. **The contract** (app/core/contract.py): a query parameter the operation does not
   declare, or a single-valued one given twice, is a 400, and a body that is not JSON where
   the operation takes JSON a 415, before anything else of the request runs.
1. **Begin**, when something first asks for the session (`SessionDep`): a write for any
   method but GET, HEAD and OPTIONS, or for a GET marked `@writes`; otherwise read-only.
   Read-only is checked, not promised: a read-only request that writes anything (a flush
   with changes, an INSERT, UPDATE or DELETE through the session) fails with
   `WriteInReadOnlyRequest`, in every test that takes that path, on both databases. On
   PostgreSQL a read-only request runs in autocommit: at READ COMMITTED, PostgreSQL's
   default and ours, every statement takes its own snapshot in a transaction too, so the
   answers are the same with two round trips fewer.
2. **Idempotency**: once the caller is known (`identified`, from the API key dependency), a
   POST with an `Idempotency-Key` is replayed, refused, or noted (app/core/idempotency.py),
   whatever else the endpoint depends on.
3. The endpoint runs; FastAPI validates its input and serialises its answer.
4. **Complete**: the idempotency record (for an answer below 500), then the outbox's events
   (app/core/outbox.py), then COMMIT. An error anywhere before the commit ends is rolled
   back, events and record with it, and the client is told it failed: a 2xx is only sent
   for a write that committed.
5. **Conditional GET** (app/core/etag.py): a GET whose If-None-Match names the answer's
   ETag is answered 304, without the body.

Background code (the webhook worker, the CLI, the maintenance jobs) uses `session_scope`,
which follows the same rules for the same reasons.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import etag, idempotency, outbox
from app.core.contract import RouteContract
from app.core.db import (
    READ_ONLY,
    SessionMaker,
    begin_read_only,
    begin_write,
    refuse_write_if_read_only,
)

log = logging.getLogger("goodwill.transactions")

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES_ON_READ = "goodwill_writes_on_read"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def writes(endpoint: Endpoint) -> Endpoint:
    """Mark a GET endpoint that writes (say, lets an overdue consent link expire as it reads),
    so that its unit of work begins as a write. Without it such a GET fails."""
    setattr(endpoint, _WRITES_ON_READ, True)
    return endpoint


class UnitOfWork:
    """One request's transaction; its session is opened on first use, so an endpoint that
    reads through a `Reader` (app/core/reads.py) for a caller whose key is cached never
    opens one."""

    __slots__ = ("_idempotency", "_sessionmaker", "_writes", "session")

    def __init__(self, sessionmaker: SessionMaker, *, writes: bool) -> None:
        self._sessionmaker = sessionmaker
        self._writes = writes
        self._idempotency: idempotency.PendingKey | None = None
        self.session: AsyncSession | None = None

    async def open(self) -> AsyncSession:
        if self.session is None:
            session = self._sessionmaker()
            self.session = session
            if self._writes:
                await begin_write(session)
            else:
                session.info[READ_ONLY] = True
                await begin_read_only(session)
        return self.session

    async def identified(self, request: Request, owner_id: str, ttl: timedelta) -> None:
        """The caller is `owner_id`: for a POST, honour its Idempotency-Key."""
        if request.method == "POST" and idempotency.HEADER in request.headers:
            self._idempotency = await idempotency.begin(request, await self.open(), owner_id, ttl)

    async def complete(self, response: Response) -> None:
        session = self.session
        if session is None:
            return
        if self._idempotency is not None and response.status_code < 500:
            await idempotency.finish(session, self._idempotency, response)
        await commit(session)

    async def fail(self) -> None:
        if self.session is not None:
            await roll_back(self.session)

    async def close(self) -> None:
        """Give the connection back to the pool. That cannot fail the request any more: by
        now it has committed or rolled back (the pool itself discards a connection it cannot
        reset), and a 2xx already committed must not turn into an error."""
        if self.session is not None:
            try:
                await self.session.close()
            except Exception:
                log.warning("closing the session failed", exc_info=True)


async def commit(session: AsyncSession) -> None:
    """Write the transaction's events, then COMMIT."""
    await outbox.flush(session)
    await session.commit()


async def roll_back(session: AsyncSession) -> None:
    """Roll back without replacing the error being handled: on a connection that broke
    mid-request the ROLLBACK can fail too, and the client must be answered for the first
    failure (an outage: 503), not for the second."""
    outbox.discard(session)
    try:
        await session.rollback()
    except Exception:
        log.warning("rollback failed; the connection is discarded", exc_info=True)
        # In a state nobody knows: closed rather than handed to the next request.
        with suppress(Exception):
            await session.invalidate()


class UnitOfWorkRoute(APIRoute):
    """Runs each request of the route in its own `UnitOfWork`, through FastAPI's handler,
    once the request has passed the route's contract (app/core/contract.py), and answers a
    GET whose If-None-Match names the answer's ETag with a 304 (app/core/etag.py)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        writes_ = bool(self.methods - _READS) or getattr(self.endpoint, _WRITES_ON_READ, False)
        # A route left out of the OpenAPI document declares nothing to hold its requests
        # to: the consent page (app/introductions/consent_page.py), read in a browser from
        # a link sent by email, which mail systems and link trackers extend with parameters
        # of their own (utm_source=...), and whose form posts form-encoded, by design.
        contract = RouteContract(self) if self.include_in_schema else None
        tag_representation = etag.tags_representation(self.endpoint)
        conditional = "GET" in self.methods

        async def run_in_unit_of_work(request: Request) -> Response:
            if contract is not None:
                # Before anything of the request runs, the caller's key included: a request
                # refused here has read and changed nothing.
                await contract.check(request)
            work = UnitOfWork(request.app.state.sessionmaker, writes=writes_)
            request.state.unit_of_work = work
            try:
                response = await handle(request)
                if tag_representation:
                    etag.tag_representation(response)  # before it is kept for a replay
                await work.complete(response)
            except BaseException:
                await work.fail()
                raise
            finally:
                await work.close()
                request.state.unit_of_work = None
            return etag.not_modified(request, response) if conditional else response

        return run_in_unit_of_work


def api_router(**kwargs: Any) -> APIRouter:
    """The one way to make a router: its routes run in units of work."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)


def check_routes(routes: list[Any]) -> None:
    """Refuse a route made outside `api_router()`: it would run without a unit of work."""
    for route in routes:
        if isinstance(route, APIRoute) and not isinstance(route, UnitOfWorkRoute):
            raise TypeError(
                f"{route.path} is not a UnitOfWorkRoute; make its router with api_router()"
            )


@asynccontextmanager
async def session_scope(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """A unit of work for background code and the CLI: a write, committed with its events
    on success, rolled back on error."""
    async with sessionmaker() as session:
        try:
            await begin_write(session)
            yield session
            await commit(session)
        except BaseException:
            await roll_back(session)
            raise


async def get_session(request: Request) -> AsyncSession:
    """The request's session, opened on first use.

    `async`: FastAPI runs a plain `def` dependency in its threadpool, a thread hop on every
    request (docs/decisions/2026-11-22-async-session-and-autocommit-reads.md)."""
    return await request.state.unit_of_work.open()


SessionDep = Annotated[AsyncSession, Depends(get_session)]

# The request's session, opened only when called: for an endpoint that answers through a
# Reader and writes only now and then (the introductions list, when a consent request has
# fallen due), so that its usual request runs no BEGIN and no COMMIT. Opened, the session is
# the request's one unit of work as `SessionDep`'s is.
SessionOpener = Callable[[], Awaitable[AsyncSession]]


async def get_session_opener(request: Request) -> SessionOpener:
    return request.state.unit_of_work.open  # type: ignore[no-any-return]


SessionOnDemand = Annotated[SessionOpener, Depends(get_session_opener)]


class EventsNotWritten(RuntimeError):
    """A bug: a transaction with recorded events was committed without writing them. Commit
    with `commit` (or in a unit of work), never with `session.commit()` alone."""


# Checks on every session: class-level listeners, since a listener per request's session
# would cost more than the checks. They only ever raise; they never write.
@event.listens_for(Session, "before_commit")
def _no_commit_with_events_unwritten(session: Session) -> None:
    # Also called when a SAVEPOINT is released: the events wait for the real commit.
    if not session.in_nested_transaction() and outbox.has_pending(session):
        raise EventsNotWritten("commit with app.core.unit_of_work.commit, not session.commit()")


@event.listens_for(Session, "before_flush")
def _no_flush_when_read_only(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        refuse_write_if_read_only(session, "a flush of changed entities")


@event.listens_for(Session, "do_orm_execute")
def _no_dml_when_read_only(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        refuse_write_if_read_only(state.session, state.statement)
