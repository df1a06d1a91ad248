from typing import Annotated

from fastapi import Path, Query, Request, Response, status

from app.core.etag import check_if_match
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.unit_of_work import SessionDep, api_router
from app.relationships import service
from app.relationships.schemas import RelationshipCreate, RelationshipRead, RelationshipUpdate

router = api_router(prefix="/v1/relationships", tags=["relationships"])

RelationshipId = Annotated[str, Path()]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RelationshipRead)
async def create_relationship(
    body: RelationshipCreate, principal: WritePrincipal, session: SessionDep, response: Response
) -> RelationshipRead:
    """Record that two contacts know each other; the same pair and kind twice is a 409."""
    relationship = await service.create_relationship(
        session, owner_id=principal.owner_id, data=body
    )
    response.headers["Location"] = f"/v1/relationships/{relationship.id}"
    response.headers["ETag"] = service.relationship_etag(relationship)
    return service.to_read(relationship)


@router.get("", response_model=Page[RelationshipRead])
async def list_relationships(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    contact_id: Annotated[
        str | None, Query(max_length=200, description="Only this contact's relationships.")
    ] = None,
) -> Page[RelationshipRead]:
    """The owner's relationships, oldest first."""
    rows, next_cursor = await service.list_relationships(
        session, owner_id=principal.owner_id, contact_id=contact_id, limit=limit, cursor=cursor
    )
    return Page(data=[service.to_read(r) for r in rows], next_cursor=next_cursor)


@router.get("/{relationship_id}", response_model=RelationshipRead)
async def read_relationship(
    relationship_id: RelationshipId,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> RelationshipRead:
    """One relationship."""
    relationship = await service.get_relationship(
        session, owner_id=principal.owner_id, relationship_id=relationship_id
    )
    response.headers["ETag"] = service.relationship_etag(relationship)
    return service.to_read(relationship)


@router.patch("/{relationship_id}", response_model=RelationshipRead)
async def update_relationship(
    relationship_id: RelationshipId,
    body: RelationshipUpdate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
) -> RelationshipRead:
    """Change the kind, the strength or the note; honours If-Match."""
    relationship = await service.get_relationship(
        session, owner_id=principal.owner_id, relationship_id=relationship_id, for_update=True
    )
    check_if_match(request, service.relationship_etag(relationship))
    relationship = await service.update_relationship(
        session, relationship=relationship, changes=body
    )
    response.headers["ETag"] = service.relationship_etag(relationship)
    return service.to_read(relationship)


@router.delete("/{relationship_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_relationship(
    relationship_id: RelationshipId,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
) -> Response:
    """Forget a relationship; honours If-Match."""
    relationship = await service.get_relationship(
        session, owner_id=principal.owner_id, relationship_id=relationship_id, for_update=True
    )
    check_if_match(request, service.relationship_etag(relationship))
    await service.delete_relationship(session, relationship=relationship)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
