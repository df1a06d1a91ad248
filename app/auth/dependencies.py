"""Who is calling: `CurrentPrincipal` for reads, `WritePrincipal` for writes."""

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from app.auth.service import Principal, authenticate
from app.core import idempotency
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
        transaction = request.state.transaction
        principal = await authenticate(secret, state.key_cache, transaction.open)
        await state.rate_limiter.check(principal.key_id, request)
        if self.write:
            if "write" not in principal.scopes:
                raise Forbidden("This API key is read-only; this request needs the `write` scope.")
            # Every POST is a write, so this is where an Idempotency-Key is honoured.
            if request.method == "POST":
                ttl = timedelta(hours=state.settings.idempotency_ttl_hours)
                session = await transaction.open()
                await idempotency.begin(request, session, principal.owner_id, ttl)
        return principal


CurrentPrincipal = Annotated[Principal, Depends(ApiKeyAuth(write=False))]
WritePrincipal = Annotated[Principal, Depends(ApiKeyAuth(write=True))]
