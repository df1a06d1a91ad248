from typing import Annotated

from fastapi import Query, Request, Response

from app.core.errors import UnprocessableContent
from app.core.etag import etag_from_representation
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal
from app.core.reads import request_reader
from app.core.responses import ORJSONResponse
from app.core.unit_of_work import api_router
from app.network import suggestions as suggestions_service
from app.network import warm_paths as warm_paths_service
from app.network.schemas import MAX_PATHS, Suggestion, WarmPaths

router = api_router(prefix="/v1", tags=["network"])

_ONE_TARGET = "give exactly one of target_id and organization"


@router.get("/warm-paths", response_model=WarmPaths)
@etag_from_representation  # computed from contacts, relationships, the ledger and settings
async def read_warm_paths(
    principal: CurrentPrincipal,
    request: Request,
    target_id: Annotated[
        str | None, Query(max_length=200, description="The contact to be introduced to.")
    ] = None,
    organization: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Anyone whose organisation is this (case and accents aside).",
        ),
    ] = None,
    ask_weight: Annotated[
        int, Query(ge=1, le=5, description="Weight of the favour you would ask the introducer.")
    ] = 3,
    max_hops: Annotated[
        int,
        Query(
            ge=1,
            le=2,
            description="1: introducers who know the target; 2 (default): "
            "also those who know someone who does.",
        ),
    ] = 2,
    limit: Annotated[int, Query(ge=1, le=MAX_PATHS, description="Paths, 1-100.")] = 20,
) -> Response:
    """Who could introduce you to a contact, or to someone at an organisation, best first:
    introducers you can ask now before those who need deposits first, then fewer hops, the
    stronger weakest link, the more recent touch. One path per introducer; none through an
    archived contact (an archived target has none)."""
    if (target_id is None) == (organization is None):
        fields = ["target_id", "organization"]
        raise UnprocessableContent(
            "Give exactly one of `target_id` and `organization`.",
            errors=[{"field": field, "message": _ONE_TARGET} for field in fields],
        )
    data = await warm_paths_service.warm_paths(
        request_reader(request),
        owner_id=principal.owner_id,
        target_id=target_id,
        organization=organization,
        ask_weight=ask_weight,
        max_hops=max_hops,
        limit=limit,
    )
    return ORJSONResponse({"data": data})


@router.get("/suggestions", response_model=Page[Suggestion])
async def list_suggestions(
    principal: CurrentPrincipal, request: Request, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Introductions worth offering, best first: a contact's need meets another's offer,
    leaving out every pair the anti-pestering rules would refuse. POST /v1/introductions
    with the pair starts one."""
    data, next_cursor = await suggestions_service.suggestions(
        request_reader(request), owner_id=principal.owner_id, limit=limit, cursor=cursor
    )
    return ORJSONResponse({"data": data, "next_cursor": next_cursor})
