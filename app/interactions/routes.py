from typing import Annotated

from fastapi import Path, Request, Response, status
from starlette.responses import JSONResponse

from app.contacts import service as contacts
from app.core.etag import check_if_match, etag_from_representation, representation_etag
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.unit_of_work import SessionDep, api_router
from app.interactions import service
from app.interactions.schemas import InteractionCreate, InteractionRead, InteractionUpdate

router = api_router(
    prefix="/v1/contacts/{contact_id}/interactions",
    tags=["interactions"],
)

ContactId = Annotated[str, Path()]
InteractionId = Annotated[str, Path()]


# An interaction keeps no version: its ETag is a digest of the answer, and a correction's
# If-Match is checked against the digest of the interaction as a GET would answer it.
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
    interaction_id: InteractionId,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> InteractionRead:
    """One interaction."""
    await contacts.get_contact(session, owner_id=principal.owner_id, contact_id=contact_id)
    interaction = await service.get_interaction(
        session, owner_id=principal.owner_id, contact_id=contact_id, interaction_id=interaction_id
    )
    return service.to_read(interaction)


def _current_etag(interaction: InteractionRead) -> str:
    """The ETag a GET of the interaction answers now: the digest of the bytes FastAPI sends
    for the model (JSONResponse of its JSON values)."""
    return representation_etag(JSONResponse(interaction.model_dump(mode="json")).body)


@router.patch("/{interaction_id}", response_model=InteractionRead)
@etag_from_representation
async def update_interaction(
    contact_id: ContactId,
    interaction_id: InteractionId,
    body: InteractionUpdate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
) -> InteractionRead:
    """Correct a logged touch; honours If-Match; `last_interaction_at` follows the latest."""
    contact, interaction = await service.find_for_correction(
        session, owner_id=principal.owner_id, contact_id=contact_id, interaction_id=interaction_id
    )
    check_if_match(request, _current_etag(service.to_read(interaction)))
    return await service.update_interaction(
        session, contact=contact, interaction=interaction, changes=body
    )


@router.delete("/{interaction_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_interaction(
    contact_id: ContactId,
    interaction_id: InteractionId,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
) -> Response:
    """Remove a touch logged by mistake; honours If-Match; `last_interaction_at` follows."""
    contact, interaction = await service.find_for_correction(
        session, owner_id=principal.owner_id, contact_id=contact_id, interaction_id=interaction_id
    )
    check_if_match(request, _current_etag(service.to_read(interaction)))
    await service.delete_interaction(session, contact=contact, interaction=interaction)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
