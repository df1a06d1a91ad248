"""Who is calling: `CurrentPrincipal` for reads, `WritePrincipal` for writes.

Every domain's routes ask for the caller, so the dependency lives here, below the domains.
It knows that an API key names a principal, not how keys are kept: that is the app's
`KeyVerifier`, `app.state.api_keys` (app.auth.service.ApiKeys, set by create_app).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Forbidden, Unauthenticated


@dataclass(frozen=True)
class Principal:
    owner_id: str
    key_id: str
    scopes: frozenset[str]


class KeyVerifier(Protocol):
    async def verify(
        self, secret: str, open_session: Callable[[], Awaitable[AsyncSession]]
    ) -> Principal:
        """The principal of the API key `secret`, or Unauthenticated. `open_session` opens
        the request's session, for a key it has to look up."""
        ...


class ApiKeyAuth(HTTPBearer):
    """The caller, from `Authorization: Bearer <api key>`, rate-limited per key.

    One dependency with no sub-dependencies, because FastAPI's solving of each one costs
    about as much as a cached key lookup and the rate limiter together
    (docs/decisions/2026-12-01-auth-as-one-dependency.md).
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
        api_keys: KeyVerifier = state.api_keys
        principal = await api_keys.verify(secret, work.open)
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
