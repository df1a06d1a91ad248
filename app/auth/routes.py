from typing import Annotated

from fastapi import Path, Request, Response, status

from app.auth import service
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, MeRead
from app.core.etag import check_if_match, etag_from_representation, make_etag
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.unit_of_work import SessionDep, api_router

router = api_router(prefix="/v1", tags=["owners and keys"])

KeyId = Annotated[str, Path()]


@router.get("/me", response_model=MeRead)
@etag_from_representation  # the owner and the calling key: no version of their own
async def read_me(principal: CurrentPrincipal, session: SessionDep) -> MeRead:
    """The owner and the API key making this request."""
    owner = await service.get_owner(session, principal.owner_id)
    return MeRead(
        owner_id=owner.id,
        email=owner.email,
        name=owner.name,
        key_id=principal.key_id,
        scopes=sorted(principal.scopes),
    )


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate, principal: WritePrincipal, session: SessionDep, response: Response
) -> ApiKeyCreated:
    """Create an API key; its secret is in `api_key`, shown only in this response."""
    created = await service.create_api_key(
        session, owner_id=principal.owner_id, name=body.name, scopes=body.scopes
    )
    response.headers["Location"] = f"/v1/api-keys/{created.id}"
    response.headers["ETag"] = make_etag(service.api_key_etag_version(created))
    return created


@router.get("/api-keys", response_model=Page[ApiKeyRead])
async def list_api_keys(
    principal: CurrentPrincipal, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ApiKeyRead]:
    """The owner's API keys, revoked ones included (secrets are never shown again)."""
    data, next_cursor = await service.list_api_keys(
        session, owner_id=principal.owner_id, limit=limit, cursor=cursor
    )
    return Page(data=data, next_cursor=next_cursor)


@router.get("/api-keys/{key_id}", response_model=ApiKeyRead)
async def read_api_key(
    key_id: KeyId, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> ApiKeyRead:
    """One API key, without its secret."""
    key = await service.get_api_key(session, owner_id=principal.owner_id, key_id=key_id)
    response.headers["ETag"] = make_etag(service.api_key_etag_version(key))
    return ApiKeyRead.model_validate(key, from_attributes=True)


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(
    key_id: KeyId, request: Request, principal: WritePrincipal, session: SessionDep
) -> Response:
    """Revoke an API key. Other server processes stop accepting it within
    GOODWILL_AUTH_CACHE_SECONDS."""
    key = await service.get_api_key(session, owner_id=principal.owner_id, key_id=key_id)
    check_if_match(request, make_etag(service.api_key_etag_version(key)))
    await service.revoke_api_key(session, owner_id=principal.owner_id, key=key)
    request.app.state.api_keys.cache.forget_key(key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
