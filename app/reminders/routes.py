from typing import Annotated

from fastapi import Path, Query, Request, Response, status

from app.core.etag import check_if_match
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.schemas import Timestamp
from app.core.unit_of_work import SessionDep, api_router
from app.reminders import service
from app.reminders.schemas import ReminderCreate, ReminderDone, ReminderRead, ReminderUpdate

router = api_router(prefix="/v1/reminders", tags=["reminders"])

ReminderId = Annotated[str, Path()]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ReminderRead)
async def create_reminder(
    body: ReminderCreate, principal: WritePrincipal, session: SessionDep, response: Response
) -> ReminderRead:
    """Plan a touch with a contact, due at `due_at` (past or future)."""
    reminder = await service.create_reminder(session, owner_id=principal.owner_id, data=body)
    response.headers["Location"] = f"/v1/reminders/{reminder.id}"
    response.headers["ETag"] = service.reminder_etag(reminder)
    return service.to_read(reminder)


@router.get("", response_model=Page[ReminderRead])
async def list_reminders(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    contact_id: Annotated[str | None, Query(max_length=200)] = None,
    due_before: Annotated[
        Timestamp | None, Query(description="Only reminders due before this instant.")
    ] = None,
    done: Annotated[
        bool | None, Query(description="`true`: done ones only; `false`: open ones only.")
    ] = None,
) -> Page[ReminderRead]:
    """The owner's reminders, soonest due first."""
    filters = service.ReminderFilters(contact_id=contact_id, due_before=due_before, done=done)
    rows, next_cursor = await service.list_reminders(
        session, owner_id=principal.owner_id, filters=filters, limit=limit, cursor=cursor
    )
    return Page(data=[service.to_read(r) for r in rows], next_cursor=next_cursor)


@router.get("/{reminder_id}", response_model=ReminderRead)
async def read_reminder(
    reminder_id: ReminderId, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> ReminderRead:
    """One reminder."""
    reminder = await service.get_reminder(
        session, owner_id=principal.owner_id, reminder_id=reminder_id
    )
    response.headers["ETag"] = service.reminder_etag(reminder)
    return service.to_read(reminder)


@router.patch("/{reminder_id}", response_model=ReminderRead)
async def update_reminder(
    reminder_id: ReminderId,
    body: ReminderUpdate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
) -> ReminderRead:
    """Move `due_at` or change the note; honours If-Match."""
    reminder = await service.get_reminder(
        session, owner_id=principal.owner_id, reminder_id=reminder_id, for_update=True
    )
    check_if_match(request, service.reminder_etag(reminder))
    reminder = await service.update_reminder(session, reminder=reminder, changes=body)
    response.headers["ETag"] = service.reminder_etag(reminder)
    return service.to_read(reminder)


@router.delete("/{reminder_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_reminder(
    reminder_id: ReminderId, request: Request, principal: WritePrincipal, session: SessionDep
) -> Response:
    """Drop a plan; honours If-Match."""
    reminder = await service.get_reminder(
        session, owner_id=principal.owner_id, reminder_id=reminder_id, for_update=True
    )
    check_if_match(request, service.reminder_etag(reminder))
    await service.delete_reminder(session, reminder=reminder)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{reminder_id}/done", response_model=ReminderRead)
async def complete_reminder(
    reminder_id: ReminderId,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
    body: ReminderDone | None = None,
) -> ReminderRead:
    """Mark it done; it leaves the agenda. Done already: the same answer, unchanged."""
    reminder = await service.get_reminder(
        session, owner_id=principal.owner_id, reminder_id=reminder_id, for_update=True
    )
    reminder = await service.complete_reminder(session, reminder=reminder)
    response.headers["ETag"] = service.reminder_etag(reminder)
    return service.to_read(reminder)
