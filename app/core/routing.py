"""One request, one transaction, committed before the response is sent."""

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import idempotency
from app.core.db import SessionMaker, begin_read_only, begin_write

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_READ_ONLY = "goodwill_read_only"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def read_only(endpoint: Endpoint) -> Endpoint:
    """Mark a GET endpoint that never writes (not even an expiry applied on read), so that
    on PostgreSQL it runs without BEGIN and COMMIT; see `begin_read_only`."""
    setattr(endpoint, _READ_ONLY, True)
    return endpoint


class RequestTransaction:
    """The request's session, opened on first use: an endpoint that reads through a
    `Reader` (app/core/reads.py) and whose caller's key is cached never opens one."""

    __slots__ = ("_begin", "_sessionmaker", "session")

    def __init__(self, sessionmaker: SessionMaker, begin: Callable[[AsyncSession], Any] | None):
        self._sessionmaker = sessionmaker
        self._begin = begin
        self.session: AsyncSession | None = None

    async def open(self) -> AsyncSession:
        if self.session is None:
            session = self._sessionmaker()
            self.session = session
            if self._begin is not None:
                await self._begin(session)
        return self.session


class TransactionalRoute(APIRoute):
    """Runs the endpoint, then stores the idempotency record and commits the request's
    session, all before the response leaves; an error anywhere rolls everything back.

    A client therefore never sees a 2xx for a write that failed to commit.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        never_writes = getattr(self.endpoint, _READ_ONLY, False)

        async def run_in_transaction(request: Request) -> Response:
            if request.method not in _READS:
                begin = begin_write
            else:
                begin = begin_read_only if never_writes else None
            transaction = RequestTransaction(request.app.state.sessionmaker, begin)
            state = request.state
            state.transaction = transaction
            state.idempotency = None
            try:
                response = await handler(request)
                session = transaction.session
                if session is not None:
                    pending = state.idempotency
                    if pending is not None and response.status_code < 500:
                        await idempotency.finish(session, pending, response)
                    await session.commit()
            except BaseException:
                if transaction.session is not None:
                    await transaction.session.rollback()
                raise
            finally:
                if transaction.session is not None:
                    await transaction.session.close()
                state.transaction = None
            return response

        return run_in_transaction
