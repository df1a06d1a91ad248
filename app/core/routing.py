"""One request, one transaction, committed before the response is sent."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.core import idempotency
from app.core.db import begin_write

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class TransactionalRoute(APIRoute):
    """Opens the request's session, runs the endpoint, stores the idempotency record, and
    commits, all before the response leaves; an error anywhere rolls everything back.

    A client therefore never sees a 2xx for a write that failed to commit.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run_in_transaction(request: Request) -> Response:
            async with request.app.state.sessionmaker() as session:
                request.state.session = session
                request.state.idempotency = None
                try:
                    if request.method not in _READS:
                        await begin_write(session)
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
