"""Who is calling: `CurrentPrincipal` for reads, `WritePrincipal` for writes."""

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.service import Principal, authenticate
from app.core import idempotency
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer gw_...`")


async def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Send an API key as `Authorization: Bearer <key>`.")
    principal = await authenticate(session, credentials.credentials, request.app.state.key_cache)
    await request.app.state.rate_limiter.check(principal.key_id, request)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def write_principal(
    request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Principal:
    if "write" not in principal.scopes:
        raise Forbidden("This API key is read-only; this request needs the `write` scope.")
    # Every POST is a write, so this is where an Idempotency-Key is honoured.
    if request.method == "POST":
        ttl = timedelta(hours=request.app.state.settings.idempotency_ttl_hours)
        await idempotency.begin(request, session, principal.owner_id, ttl)
    return principal


WritePrincipal = Annotated[Principal, Depends(write_principal)]
