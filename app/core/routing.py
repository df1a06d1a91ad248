"""One request, one transaction, committed before the response is sent."""

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core import idempotency
from app.core.db import SessionMaker, begin_read_only, begin_write

log = logging.getLogger("goodwill.transactions")

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
        solving = super().get_route_handler()
        plain = plain_call(self.dependant)
        never_writes = getattr(self.endpoint, _READ_ONLY, False)

        async def handler(request: Request) -> Response:
            app = request.app
            if plain is None or app.dependency_overrides or app.state.settings.otel:
                return await solving(request)
            return await plain(request)

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
                    await _roll_back(transaction.session)
                raise
            finally:
                if transaction.session is not None:
                    await _close(transaction.session)
                state.transaction = None
            return response

        return run_in_transaction


async def _roll_back(session: AsyncSession) -> None:
    """Roll back without replacing the error being handled: on a connection that broke
    mid-request the ROLLBACK can fail too, and the client must be answered for the first
    failure (an outage: 503), not for the second."""
    try:
        await session.rollback()
    except Exception:
        log.warning("rollback failed; the connection is discarded", exc_info=True)
        # In a state nobody knows: closed rather than handed to the next request.
        with suppress(Exception):
            await session.invalidate()


async def _close(session: AsyncSession) -> None:
    """Give the connection back to the pool. That cannot fail the request any more: by now
    it has committed or rolled back (the pool itself discards a connection it cannot reset),
    and a 2xx already committed must not turn into an error."""
    try:
        await session.close()
    except Exception:
        log.warning("closing the session failed", exc_info=True)


# What a Dependant may take besides path parameters, the Request and sub-dependencies; an
# endpoint (or dependency) that takes any of it is left to FastAPI's solving.
_OTHER_INPUTS = (
    "query_params",
    "header_params",
    "cookie_params",
    "body_params",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
    "websocket_param_name",
    "http_connection_param_name",
)


def _takes_other_inputs(dependant: Dependant) -> bool:
    return any(getattr(dependant, name) for name in _OTHER_INPUTS)


def _takes_only_the_request(dependency: Dependant) -> bool:
    call = dependency.call
    return (
        call is not None
        and dependency.request_param_name is not None
        and not (dependency.path_params or dependency.dependencies)
        and not _takes_other_inputs(dependency)
        and (inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__))
    )


def plain_call(dependant: Dependant) -> Callable[[Request], Awaitable[Response]] | None:
    """The endpoint called directly, for an endpoint with nothing for FastAPI to validate,
    solve or serialise: only path parameters that are plain strings (every path segment is
    one already), the Request, dependencies that themselves take only the Request (the API
    key's `ApiKeyAuth`), and a Response returned as it is. FastAPI's own handler would read
    the body, solve each parameter through pydantic and wrap exit stacks around a call
    that comes to the same thing: a fifth of GET /v1/contacts/{id} (bench/README.md). Any
    other endpoint returns None and is left to FastAPI, as is every request while
    dependency overrides or OpenTelemetry are on. OpenAPI is built from the same
    signature either way."""
    call = dependant.call
    if call is None or not inspect.iscoroutinefunction(call):
        return None
    returns = inspect.signature(call, eval_str=True).return_annotation
    if not (inspect.isclass(returns) and issubclass(returns, Response)):
        return None
    if _takes_other_inputs(dependant):
        return None
    paths = dependant.path_params
    if any(f.field_info.annotation is not str or f.field_info.metadata for f in paths):
        return None
    if any(f.alias != f.name for f in paths):
        return None
    if not all(_takes_only_the_request(d) for d in dependant.dependencies):
        return None
    path_names = tuple(f.name for f in paths)
    dependencies = tuple((d.name, d.call, d.request_param_name) for d in dependant.dependencies)
    request_name = dependant.request_param_name

    async def run(request: Request) -> Response:
        values = request.path_params
        kwargs: dict[str, Any] = {name: values[name] for name in path_names}
        for name, dependency, takes_request in dependencies:
            kwargs[name] = await dependency(**{takes_request: request})
        if request_name is not None:
            kwargs[request_name] = request
        response = await call(**kwargs)
        if not isinstance(response, Response):
            raise TypeError(f"{call.__qualname__} is annotated to return a Response")
        return response

    return run
