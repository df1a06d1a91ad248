"""The application factory: routers, middleware, error handlers and shared state."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

from app import maintenance, models  # noqa: F401  (models registers every table)
from app.agenda.routes import router as agenda_router
from app.auth.routes import router as auth_router
from app.auth.service import ApiKeys
from app.calendar.routes import feed_router as calendar_router
from app.calendar.routes import router as calendar_feeds_router
from app.contacts.routes import router as contacts_router
from app.core import idempotency, openapi, signing
from app.core.config import Settings, get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.errors import database_unavailable, install_error_handlers
from app.core.logging import configure_logging, exception_names
from app.core.middleware import InputGuardMiddleware, RequestContextMiddleware
from app.core.migrations import head_revision
from app.core.ratelimit import KeyRateLimiter
from app.core.server import settle_heap
from app.core.unit_of_work import check_routes
from app.events.routes import router as events_router
from app.events.targets import SystemResolver
from app.interactions.routes import router as interactions_router
from app.introductions.consent_page import router as consent_router
from app.introductions.routes import router as introductions_router
from app.ledger.routes import router as ledger_router
from app.network.routes import router as network_router
from app.ops.routes import router as ops_router
from app.portability.routes import router as portability_router
from app.relationships.routes import router as relationships_router
from app.reminders.routes import router as reminders_router
from app.settings.routes import router as settings_router

log = logging.getLogger("goodwill.startup")

# A worker waiting for the database at start tries again this often at most.
START_RETRY_MAX_SECONDS = 2.0

DESCRIPTION = """Relationship-first networking: contacts, a reciprocity ledger and
consent-gated introductions. Authenticate with `Authorization: Bearer <api key>`;
errors are RFC 9457 problem details."""


async def _when_reachable(
    start: Callable[[AsyncEngine], Awaitable[None]], engine: AsyncEngine
) -> None:
    """`start(engine)`, waiting for a database that is down (restarting, failing over): uvicorn
    stops every worker as soon as one fails to start, so a worker it starts, or restarts,
    during an outage would take the whole server down with it."""
    delay = 0.1
    while True:
        try:
            await start(engine)
            return
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning(
                "database unavailable at start; waiting for it",
                extra={"error": exception_names(exc)},
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, START_RETRY_MAX_SECONDS)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _when_reachable(signing.load_secret, app.state.engine)
        tasks = maintenance.start(settings, app.state.sessionmaker)
        settle_heap()
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        await app.state.engine.dispose()

    app = FastAPI(
        title="Goodwill",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=openapi.TAGS,
        # Every router's routes take it: the endpoint's name is the operation's id.
        generate_unique_id_function=openapi.operation_id,
        telemetry=None if settings.otel else {"tracing": False, "metrics": False, "logs": False},
    )
    openapi.install(app)
    app.state.settings = settings
    app.state.engine = create_engine(settings)
    app.state.sessionmaker = create_sessionmaker(app.state.engine)
    # Checks callers' API keys for ApiKeyAuth (app/core/principal.py).
    app.state.api_keys = ApiKeys(settings.auth_cache_seconds)
    app.state.rate_limiter = KeyRateLimiter(settings)
    app.state.migration_head = head_revision()
    # Resolves webhook hosts; tests put a resolver that never leaves the machine here.
    app.state.resolver = SystemResolver()

    install_error_handlers(app)

    @app.exception_handler(idempotency.IdempotentReplay)
    async def _replay(request: Request, exc: idempotency.IdempotentReplay) -> Response:
        return exc.response()

    app.add_middleware(
        InputGuardMiddleware,
        max_body_bytes=settings.max_body_bytes,
        path_limits={"/v1/imports": settings.import_max_body_bytes},
        # Absolute links follow the Host only when no public base URL is set: then the Host
        # must be one the operator listed.
        allowed_hosts=None if settings.public_base_url else settings.allowed_hosts,
        body_timeout_seconds=settings.body_timeout_seconds,
    )
    # Added last, so it is outermost: every response, even a 413, carries the request id.
    app.add_middleware(RequestContextMiddleware)
    # Routes are matched one by one in this order, a few microseconds each: the busiest
    # come first (docs/decisions/2026-11-22-busiest-routes-first.md).
    for router in (
        agenda_router,
        contacts_router,
        ledger_router,
        interactions_router,
        introductions_router,
        events_router,
        reminders_router,
        relationships_router,
        network_router,
        settings_router,
        calendar_feeds_router,
        auth_router,
        portability_router,
    ):
        check_routes(router.routes)
        app.include_router(router)
    for router in (consent_router, calendar_router, ops_router):
        check_routes(router.routes)
        app.include_router(router)
    return app
