from typing import Annotated

from fastapi import Path, Query, Request, Response, status
from pydantic import StringConstraints

from app import erasure
from app.contacts import listing, service
from app.contacts.models import Contact
from app.contacts.schemas import (
    ChannelUse,
    ContactCreate,
    ContactRead,
    ContactRestore,
    ContactSort,
    ContactUpdate,
    TrustStage,
)
from app.core.errors import PreconditionFailed, UnprocessableContent
from app.core.etag import check_if_match
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.reads import request_reader
from app.core.reciprocity import Flag
from app.core.responses import ORJSONResponse
from app.core.schemas import Timestamp
from app.core.unit_of_work import SessionDep, api_router

router = api_router(prefix="/v1/contacts", tags=["contacts"])

ContactId = Annotated[str, Path()]
TagFilter = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# Each tag is a condition of the statement: a few make a filter, hundreds a slow query.
MAX_TAG_FILTERS = 20


async def _answer(
    session: SessionDep,
    contact: Contact,
    status_code: int = 200,
    ratio: int | None = None,
    **headers: str,
) -> Response:
    """The contact's document, as every contact answer sends it, with its ETag."""
    document, headers["ETag"] = await service.present_with_etag(session, contact, ratio)
    return ORJSONResponse(document, status_code=status_code, headers=headers)


# Routes are matched one by one in the order they are declared, and GET by id is the
# busiest: it comes first (docs/decisions/2026-11-22-busiest-routes-first.md).
@router.get("/{contact_id}", response_model=ContactRead)
async def read_contact(
    contact_id: ContactId, principal: CurrentPrincipal, request: Request
) -> Response:
    """One contact, archived or not."""
    row = await service.read_contact(
        request_reader(request), owner_id=principal.owner_id, contact_id=contact_id
    )
    (document,) = service.contact_documents([row], row["ratio"])
    etag = service.contact_etag(row["version"], document)
    return ORJSONResponse(document, headers={"ETag": etag})


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ContactRead)
async def create_contact(
    body: ContactCreate, principal: WritePrincipal, session: SessionDep
) -> Response:
    """Add a person to the network."""
    contact = await service.create_contact(session, owner_id=principal.owner_id, data=body)
    location = f"/v1/contacts/{contact.id}"
    return await _answer(session, contact, status.HTTP_201_CREATED, Location=location)


def _external_ref(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    system, sep, ext_id = value.partition(":")
    if not sep or not system or not ext_id:
        raise UnprocessableContent(
            "external_ref must look like system:id, for example hubspot:123.",
            errors=[{"field": "external_ref", "message": "expected system:id"}],
        )
    return system, ext_id


@router.get("", response_model=Page[ContactRead])
async def list_contacts(
    principal: CurrentPrincipal,
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Name, organisation, title, email, phone (any format) or tag; case "
            "and accents ignored.",
        ),
    ] = None,
    tag: Annotated[
        list[TagFilter] | None,
        Query(
            max_length=MAX_TAG_FILTERS,
            description="Only contacts with every tag given (repeat for several).",
        ),
    ] = None,
    trust_stage: TrustStage | None = None,
    updated_since: Timestamp | None = None,
    stale: Annotated[bool | None, Query(description="Past their keep-in-touch cadence.")] = None,
    channel_use: Annotated[
        ChannelUse | None, Query(description="Only contacts with a channel permitting this use.")
    ] = None,
    external_ref: Annotated[
        str | None, Query(max_length=300, description="`system:id`, e.g. `hubspot:123`.")
    ] = None,
    archived: Annotated[bool, Query(description="List archived contacts instead.")] = False,
    flag: Annotated[
        list[Flag] | None,
        Query(
            max_length=len(Flag),
            description="Only contacts with every flag given (repeat for several).",
        ),
    ] = None,
    sort: Annotated[
        ContactSort, Query(description="Order; `-` for descending. Ties go by id.")
    ] = ContactSort.created_at,
) -> Response:
    """The network, filtered and sorted; archived and erased contacts are left out."""
    filters = listing.ContactFilters(
        q=q,
        tags=tuple(sorted(set(tag or ()))),
        trust_stage=trust_stage,
        updated_since=updated_since,
        stale=stale,
        channel_use=channel_use.value if channel_use else None,
        external_ref=_external_ref(external_ref),
        archived=archived,
        flags=frozenset(flag or ()),
    )
    rows, ratio, next_cursor = await listing.list_contacts(
        request_reader(request),
        owner_id=principal.owner_id,
        filters=filters,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    data = service.contact_documents(rows, ratio)
    return ORJSONResponse({"data": data, "next_cursor": next_cursor})


@router.patch("/{contact_id}", response_model=ContactRead)
async def update_contact(
    contact_id: ContactId,
    body: ContactUpdate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
) -> Response:
    """Change the fields sent; honours If-Match."""
    contact = await service.get_contact(
        session, owner_id=principal.owner_id, contact_id=contact_id, for_update=True
    )
    current, ratio = await service.current_etag(session, contact)
    check_if_match(request, current)
    contact = await service.update_contact(session, contact=contact, changes=body)
    return await _answer(session, contact, ratio=ratio)


@router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(
    contact_id: ContactId,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    erase: Annotated[
        bool, Query(description="Erase personal data for good instead of archiving.")
    ] = False,
) -> Response:
    """Archive a contact, or with `erase=true` erase its personal data; honours If-Match."""
    contact = await service.get_contact(
        session, owner_id=principal.owner_id, contact_id=contact_id, for_update=True
    )
    if "if-match" in request.headers:  # its ETag needs the ratio: read only when asked
        check_if_match(request, (await service.current_etag(session, contact))[0])
    if erase:
        await erasure.erase_contact(session, contact=contact)
    else:
        await service.archive_contact(session, contact=contact)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


SystemPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[^:\s]([^:]*[^:\s])?$",
        description="The system, e.g. `hubspot`.",
    ),
]
ExternalIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=r"^\S(.*\S)?$",
        description="The contact's id in that system.",
    ),
]


@router.put(
    "/by-ref/{system}/{external_id}",
    response_model=ContactRead,
    responses={201: {"model": ContactRead, "description": "Created: no contact had the ref."}},
)
async def upsert_contact_by_ref(
    system: SystemPath,
    external_id: ExternalIdPath,
    body: ContactCreate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
) -> Response:
    """Create (201) or replace (200) the contact holding this external reference, the CRM
    sync primitive: the body is the whole contact; the same body again changes nothing.
    Honours If-Match."""

    def precondition(current: str | None) -> None:
        if current is not None:
            check_if_match(request, current)
        elif "if-match" in request.headers:  # RFC 9110: no representation matches, not even *
            raise PreconditionFailed("No contact holds this reference; PUT without If-Match.")

    contact, created, ratio = await service.put_contact_by_ref(
        session,
        owner_id=principal.owner_id,
        ref=(system, external_id),
        data=body,
        check=precondition,
    )
    if created:
        location = f"/v1/contacts/{contact.id}"
        return await _answer(session, contact, status.HTTP_201_CREATED, Location=location)
    return await _answer(session, contact, ratio=ratio)


@router.post("/{contact_id}/restore", response_model=ContactRead)
async def restore_contact(
    contact_id: ContactId,
    principal: WritePrincipal,
    session: SessionDep,
    body: ContactRestore | None = None,
) -> Response:
    """Undo an archive: the contact is listed and takes new writes again."""
    contact = await service.get_contact(
        session, owner_id=principal.owner_id, contact_id=contact_id, for_update=True
    )
    contact = await service.restore_contact(session, contact=contact)
    return await _answer(session, contact)
