from typing import Annotated

from fastapi import Path, Response, status

from app.contacts import service as contacts
from app.core.etag import etag_from_representation
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.unit_of_work import SessionDep, api_router
from app.interactions import service
from app.interactions.schemas import InteractionCreate, InteractionRead

router = api_router(
    prefix="/v1/contacts/{contact_id}/interactions",
    tags=["interactions"],
)

ContactId = Annotated[str, Path()]


# An interaction keeps no version (it is never edited): its ETag is a digest of the answer.
@router.post("", status_code=status.HTTP_201_CREATED, response_model=InteractionRead)
@etag_from_representation
async def log_interaction(
    contact_id: ContactId,
    body: InteractionCreate,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
) -> InteractionRead:
    """Record a touchpoint; moves the contact's `last_interaction_at`."""
    interaction = await service.log_interaction(
        session, owner_id=principal.owner_id, contact_id=contact_id, data=body
    )
    response.headers["Location"] = f"/v1/contacts/{contact_id}/interactions/{interaction.id}"
    return interaction


@router.get("", response_model=Page[InteractionRead])
async def list_interactions(
    contact_id: ContactId,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[InteractionRead]:
    """A contact's interactions, newest first."""
    await contacts.get_contact(session, owner_id=principal.owner_id, contact_id=contact_id)
    rows, next_cursor = await service.list_interactions(
        session, owner_id=principal.owner_id, contact_id=contact_id, limit=limit, cursor=cursor
    )
    return Page(data=[service.to_read(i) for i in rows], next_cursor=next_cursor)


@router.get("/{interaction_id}", response_model=InteractionRead)
@etag_from_representation
async def read_interaction(
    contact_id: ContactId,
    interaction_id: Annotated[str, Path()],
    principal: CurrentPrincipal,
    session: SessionDep,
) -> InteractionRead:
    """One interaction."""
    await contacts.get_contact(session, owner_id=principal.owner_id, contact_id=contact_id)
    interaction = await service.get_interaction(
        session, owner_id=principal.owner_id, contact_id=contact_id, interaction_id=interaction_id
    )
    return service.to_read(interaction)
