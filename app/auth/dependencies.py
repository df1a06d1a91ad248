"""Who is calling: `CurrentPrincipal` for reads, `WritePrincipal` for writes."""

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from app.auth.service import Principal, authenticate
from app.core.errors import Forbidden, Unauthenticated


class ApiKeyAuth(HTTPBearer):
    """The caller, from `Authorization: Bearer <api key>`, rate-limited per key.

    One dependency with no sub-dependencies, because FastAPI's solving of each one costs
    about as much as a cached key lookup and the rate limiter together (bench/README.md).
    As an `HTTPBearer` it is documented in OpenAPI as that security scheme. The request's
    session is opened only when the key is not in the cache, or for a write."""

    def __init__(self, *, write: bool) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="HTTPBearer",
            description="An API key: `Authorization: Bearer gw_...`",
        )
        self.write = write

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        scheme, _, secret = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated("Send an API key as `Authorization: Bearer <key>`.")
        state = request.app.state
        work = request.state.unit_of_work
        principal = await authenticate(secret, state.key_cache, work.open)
        await state.rate_limiter.check(principal.key_id, request)
        if self.write and "write" not in principal.scopes:
            raise Forbidden("This API key is read-only; this request needs the `write` scope.")
        # The unit of work, not this dependency, decides what knowing the caller means (an
        # Idempotency-Key honoured on a POST).
        await work.identified(
            request, principal.owner_id, timedelta(hours=state.settings.idempotency_ttl_hours)
        )
        return principal


CurrentPrincipal = Annotated[Principal, Depends(ApiKeyAuth(write=False))]
WritePrincipal = Annotated[Principal, Depends(ApiKeyAuth(write=True))]
