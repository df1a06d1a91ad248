from fastapi import Request, Response

from app.core.etag import check_if_match
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.unit_of_work import SessionDep, api_router
from app.settings import service
from app.settings.schemas import SettingsRead, SettingsUpdate

router = api_router(prefix="/v1/settings", tags=["settings"])


@router.get("", response_model=SettingsRead)
async def read_settings(
    principal: CurrentPrincipal, session: SessionDep, response: Response
) -> SettingsRead:
    """The owner's rules: reciprocity ratio, consent and anti-pestering limits, and the
    agenda's thanks window and time zone."""
    current = await service.get_settings(session, owner_id=principal.owner_id)
    response.headers["ETag"] = service.settings_etag(current)
    return service.to_read(current)


@router.patch("", response_model=SettingsRead)
async def update_settings(
    body: SettingsUpdate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
) -> SettingsRead:
    """Change the rules sent; honours If-Match."""
    current = await service.get_settings(session, owner_id=principal.owner_id, for_update=True)
    check_if_match(request, service.settings_etag(current))
    updated = await service.update_settings(
        session, owner_id=principal.owner_id, current=current, changes=body
    )
    response.headers["ETag"] = service.settings_etag(updated)
    return service.to_read(updated)
