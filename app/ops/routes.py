"""Health, readiness and metrics: for load balancers and Prometheus, no API key needed."""

from typing import Literal

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.errors import DATABASE_ERRORS, ServiceUnavailable, problem_response
from app.core.metrics import REGISTRY
from app.core.unit_of_work import api_router

router = api_router(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok", "ready"]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"description": "Not ready"}})
async def readyz(request: Request) -> Response | Health:
    """The database answers and its schema is at the migration head."""
    expected = request.app.state.migration_head
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            try:
                current = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
            except DBAPIError:
                current = None  # never migrated
    except DATABASE_ERRORS:
        # Whatever keeps the database from answering (refused, dropped, a wrong password, no
        # free connection in the pool) means not ready.
        return problem_response(
            503,
            "not-ready",
            "Not Ready",
            "The database is unreachable.",
            headers={"Retry-After": str(ServiceUnavailable.RETRY_AFTER_SECONDS)},
        )
    if current != expected:
        return problem_response(
            503,
            "not-ready",
            "Not Ready",
            "The database schema is not at the migration head; run `goodwill migrate`.",
        )
    return Health(status="ready")


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
