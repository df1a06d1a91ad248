from typing import Annotated

from fastapi import Path, Query, Request, Response, status

from app.core.etag import etag_from_representation
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.reads import request_reader
from app.core.reciprocity import Reciprocity
from app.core.responses import ORJSONResponse
from app.core.unit_of_work import SessionDep, api_router
from app.ledger import service
from app.ledger.schemas import (
    Direction,
    EntryKind,
    LedgerEntryCreate,
    LedgerEntryRead,
    ReversalCreate,
)

router = api_router(prefix="/v1", tags=["ledger"])

EntryId = Annotated[str, Path()]


# An entry keeps no version: it is never edited. Its representation still changes, once
# reversed (`reversed_by_id`) or once an erasure drops its note, so its ETag is a digest of
# the answer.
@router.post("/ledger", status_code=status.HTTP_201_CREATED, response_model=LedgerEntryRead)
@etag_from_representation
async def record_entry(
    body: LedgerEntryCreate, principal: WritePrincipal, session: SessionDep, response: Response
) -> LedgerEntryRead:
    """Record something given to (`gave`, a deposit) or received from (`received`, a
    withdrawal) a contact."""
    entry = await service.record_entry(session, owner_id=principal.owner_id, data=body)
    response.headers["Location"] = f"/v1/ledger/{entry.id}"
    return entry


@router.get("/ledger", response_model=Page[LedgerEntryRead])
async def list_entries(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    contact_id: Annotated[str | None, Query(max_length=200)] = None,
    direction: Direction | None = None,
    kind: EntryKind | None = None,
) -> Page[LedgerEntryRead]:
    """Ledger entries, newest first; reversals included."""
    filters = service.LedgerFilters(contact_id=contact_id, direction=direction, kind=kind)
    data, next_cursor = await service.list_entries(
        session, owner_id=principal.owner_id, filters=filters, limit=limit, cursor=cursor
    )
    return Page(data=data, next_cursor=next_cursor)


@router.get("/ledger/{entry_id}", response_model=LedgerEntryRead)
@etag_from_representation
async def read_entry(
    entry_id: EntryId, principal: CurrentPrincipal, session: SessionDep
) -> LedgerEntryRead:
    """One entry. Entries are never changed or deleted: correct one with a reversal."""
    entry, reversed_by = await service.get_entry(
        session, owner_id=principal.owner_id, entry_id=entry_id
    )
    return service.to_read(entry, reversed_by)


@router.post(
    "/ledger/{entry_id}/reversal",
    status_code=status.HTTP_201_CREATED,
    response_model=LedgerEntryRead,
)
@etag_from_representation
async def reverse_entry(
    entry_id: EntryId,
    body: ReversalCreate,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
) -> LedgerEntryRead:
    """Cancel a mistaken entry with an opposite one; an entry is reversed at most once."""
    reversal = await service.reverse_entry(
        session, owner_id=principal.owner_id, entry_id=entry_id, note=body.note
    )
    response.headers["Location"] = f"/v1/ledger/{reversal.id}"
    return reversal


@router.get("/contacts/{contact_id}/reciprocity", response_model=Reciprocity)
@etag_from_representation  # derived from the contact, the ledger, the settings and the time
async def read_reciprocity(
    contact_id: Annotated[str, Path()],
    principal: CurrentPrincipal,
    request: Request,
    ask_weight: Annotated[
        int, Query(ge=1, le=5, description="Weight of the favour you would ask.")
    ] = 1,
) -> Response:
    """Is it fair to ask this contact for a favour of `ask_weight` now?"""
    summary = await service.reciprocity(
        request_reader(request),
        owner_id=principal.owner_id,
        contact_id=contact_id,
        ask_weight=ask_weight,
    )
    return ORJSONResponse(summary)
