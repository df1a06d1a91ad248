from datetime import date
from typing import Annotated

from fastapi import Path, Query, Request, Response

from app.agenda import service
from app.agenda.items import is_owners
from app.agenda.schemas import AgendaItem, AgendaItemHidden, AgendaKind, DismissBody, SnoozeBody
from app.core.errors import NotFound, UnprocessableContent
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.reads import request_reader
from app.core.responses import ORJSONResponse
from app.core.types import utcnow
from app.core.unit_of_work import SessionDep, api_router

router = api_router(prefix="/v1/agenda", tags=["agenda"])

ItemId = Annotated[str, Path(max_length=200)]
_DAY_MESSAGE = "must be a date, YYYY-MM-DD, between 1900 and 2999"


def _day(on: str | None) -> date | None:
    if on is None:
        return None
    try:
        day = date.fromisoformat(on)
    except ValueError:
        day = None
    # The years a timestamp may have (app/core/schemas.py): a day's bounds in any timezone
    # stay within what a datetime can hold.
    if day is None or not 1900 <= day.year <= 2999:
        raise UnprocessableContent(
            "`on` is not a valid date.", errors=[{"field": "on", "message": _DAY_MESSAGE}]
        )
    return day


def _item_id(owner_id: str, item_id: str) -> str:
    """Any well-formed id of the owner's may be snoozed (items are computed, see the
    service); another owner's is not one."""
    if not is_owners(owner_id, item_id):
        raise NotFound(f"No agenda item {item_id}.")
    return item_id


@router.get("", response_model=Page[AgendaItem])
async def read_agenda(
    principal: CurrentPrincipal,
    request: Request,
    on: Annotated[
        str | None,
        Query(
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            max_length=10,
            description="The day (YYYY-MM-DD); default: today in the owner's `timezone`.",
        ),
    ] = None,
    kinds: Annotated[
        list[AgendaKind] | None,
        Query(
            alias="kind",
            max_length=len(AgendaKind),
            description="Only items of these kinds; repeat for several.",
        ),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """What to do on a day, most important first: a consent about to lapse
    (`consent_expiring`: lost if left), feedback owed on an introduction (`follow_up`),
    thanks owed to someone who just helped (`thanks_owed`), introductions ready to make,
    reminders, balances to restore (`rebalance`), introductions you could offer (`give`,
    from GET /v1/suggestions, best first), then routine touches due (`touch_overdue`);
    within a kind, soonest due first. An item's `id` is the same for the same reason on the
    same subject and occurrence (a touch due again after a new interaction is a new item).
    Snoozed and dismissed items are left out."""
    data, next_cursor = await service.agenda(
        request_reader(request),
        owner_id=principal.owner_id,
        on=_day(on),
        kinds=tuple(dict.fromkeys(kinds or ())),
        limit=limit,
        cursor=cursor,
    )
    # The items are the schema's fields already: written as they are, as the contact lists
    # are, not validated into models and serialised again (50 items a page).
    return ORJSONResponse({"data": data, "next_cursor": next_cursor})


@router.post("/{item_id}/snooze", response_model=AgendaItemHidden)
async def snooze_agenda_item(
    item_id: ItemId, body: SnoozeBody, principal: WritePrincipal, session: SessionDep
) -> AgendaItemHidden:
    """Hide the item until `until` (in the future); it shows again after."""
    if body.until <= utcnow():
        raise UnprocessableContent(
            "`until` must be in the future.",
            errors=[{"field": "until", "message": "must be in the future"}],
        )
    item_id = _item_id(principal.owner_id, item_id)
    hidden = await service.hide(
        session, owner_id=principal.owner_id, item_id=item_id, until=body.until
    )
    return AgendaItemHidden(**hidden)


@router.post("/{item_id}/dismiss", response_model=AgendaItemHidden)
async def dismiss_agenda_item(
    item_id: ItemId, body: DismissBody, principal: WritePrincipal, session: SessionDep
) -> AgendaItemHidden:
    """Hide the item for good (this occurrence of it: a new one is a new item)."""
    item_id = _item_id(principal.owner_id, item_id)
    hidden = await service.hide(session, owner_id=principal.owner_id, item_id=item_id, until=None)
    return AgendaItemHidden(**hidden)
