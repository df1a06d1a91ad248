"""One request, one transaction, committed before the response is sent."""

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.core import idempotency
from app.core.db import begin_read_only, begin_write

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_READ_ONLY = "goodwill_read_only"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def read_only(endpoint: Endpoint) -> Endpoint:
    """Mark a GET endpoint that never writes (not even an expiry applied on read), so that
    on PostgreSQL it runs without BEGIN and COMMIT; see `begin_read_only`."""
    setattr(endpoint, _READ_ONLY, True)
    return endpoint


class TransactionalRoute(APIRoute):
    """Opens the request's session, runs the endpoint, stores the idempotency record, and
    commits, all before the response leaves; an error anywhere rolls everything back.

    A client therefore never sees a 2xx for a write that failed to commit.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        never_writes = getattr(self.endpoint, _READ_ONLY, False)

        async def run_in_transaction(request: Request) -> Response:
            async with request.app.state.sessionmaker() as session:
                request.state.session = session
                request.state.idempotency = None
                try:
                    if request.method not in _READS:
                        await begin_write(session)
                    elif never_writes:
                        await begin_read_only(session)
                    response = await handler(request)
                    pending = request.state.idempotency
                    if pending is not None and response.status_code < 500:
                        await idempotency.finish(session, pending, response)
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
                finally:
                    request.state.session = None
            return response

        return run_in_transaction
