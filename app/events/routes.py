from datetime import timedelta
from typing import Annotated

from fastapi import Path, Query, Request, Response, status

from app.core.contract import InvalidQuery
from app.core.etag import check_if_match
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.unit_of_work import SessionDep, api_router
from app.events import feed, webhooks
from app.events.schemas import (
    MAX_TYPE_FILTERS,
    DeliveryRead,
    DeliveryStatus,
    EventPage,
    EventTypeFilter,
    SecretRotate,
    WebhookAction,
    WebhookCreate,
    WebhookCreated,
    WebhookEnable,
    WebhookRead,
    WebhookUpdate,
)

router = api_router(
    prefix="/v1",
)

WebhookId = Annotated[str, Path()]
DeliveryId = Annotated[str, Path()]
# The name the feed's cursor had before every list took `cursor`; still accepted.
After = Annotated[
    str | None,
    Query(max_length=512, deprecated=True, description="The same as `cursor`; use `cursor`."),
]


@router.get("/events", response_model=EventPage, tags=["events"])
async def list_events(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    after: After = None,
    types: Annotated[
        list[EventTypeFilter] | None,
        Query(
            alias="type",
            max_length=MAX_TYPE_FILTERS,
            examples=[["contact.created", "introduction.*"]],
            description="Only events of these types: a type (`contact.created`) or a "
            "resource's types (`introduction.*`); repeat for several. A filtered page reads "
            f"at most {feed.FILTER_SCAN_ROWS} events of the feed, so it may hold fewer than "
            "`limit` (even none) while more follow: keep reading from `next_cursor`.",
        ),
    ] = None,
) -> EventPage:
    """Every change to the owner's data, oldest first, in the order it was committed;
    `next_cursor` is given on the last page too, to poll from."""
    if cursor is not None and after is not None:
        raise InvalidQuery(
            "Give the cursor as `cursor` or as `after` (its old name), not both.",
            errors=[{"field": "after", "message": "the same as cursor; give one of them"}],
        )
    return await feed.list_events(
        session,
        owner_id=principal.owner_id,
        cursor=cursor or after,
        limit=limit,
        types=tuple(dict.fromkeys(types or ())),
    )


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    tags=["webhooks"],
)
async def create_webhook(
    body: WebhookCreate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
) -> WebhookCreated:
    """Subscribe a URL to events; the signing `secret` is shown only in this response."""
    sub = await webhooks.create_subscription(
        session,
        owner_id=principal.owner_id,
        data=body,
        resolver=request.app.state.resolver,
        allow_private=request.app.state.settings.webhook_allow_private,
    )
    response.headers["Location"] = f"/v1/webhooks/{sub.id}"
    response.headers["ETag"] = webhooks.webhook_etag(sub)
    return webhooks.to_created(sub)


@router.get("/webhooks", response_model=Page[WebhookRead], tags=["webhooks"])
async def list_webhooks(
    principal: CurrentPrincipal, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[WebhookRead]:
    """The owner's webhook subscriptions, secrets left out."""
    data, next_cursor = await webhooks.list_subscriptions(
        session, owner_id=principal.owner_id, limit=limit, cursor=cursor
    )
    return Page(data=data, next_cursor=next_cursor)


@router.get("/webhooks/{webhook_id}", response_model=WebhookRead, tags=["webhooks"])
async def read_webhook(
    webhook_id: WebhookId, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> WebhookRead:
    """One subscription: `status` is `disabled`, with `disabled_reason`, once its deliveries
    kept failing."""
    sub = await webhooks.get_subscription(
        session, owner_id=principal.owner_id, webhook_id=webhook_id
    )
    response.headers["ETag"] = webhooks.webhook_etag(sub)
    return webhooks.to_read(sub)


@router.patch("/webhooks/{webhook_id}", response_model=WebhookRead, tags=["webhooks"])
async def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
) -> WebhookRead:
    """Change the URL (checked as at creation), the events or `enabled`; the secret is not
    shown again. Honours If-Match."""
    sub = await webhooks.get_subscription(
        session, owner_id=principal.owner_id, webhook_id=webhook_id, for_update=True
    )
    check_if_match(request, webhooks.webhook_etag(sub))
    sub = await webhooks.update_subscription(
        session,
        sub=sub,
        data=body,
        resolver=request.app.state.resolver,
        allow_private=request.app.state.settings.webhook_allow_private,
    )
    response.headers["ETag"] = webhooks.webhook_etag(sub)
    return webhooks.to_read(sub)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["webhooks"])
async def delete_webhook(
    webhook_id: WebhookId, request: Request, principal: WritePrincipal, session: SessionDep
) -> Response:
    """Unsubscribe; pending deliveries are dropped. Honours If-Match."""
    sub = await webhooks.get_subscription(
        session, owner_id=principal.owner_id, webhook_id=webhook_id, for_update=True
    )
    check_if_match(request, webhooks.webhook_etag(sub))
    await webhooks.delete_subscription(session, sub=sub)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret", response_model=WebhookCreated, tags=["webhooks"]
)
async def rotate_webhook_secret(
    webhook_id: WebhookId,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
    body: SecretRotate | None = None,
) -> WebhookCreated:
    """A new signing secret, shown only in this response. Deliveries carry signatures with
    both the new and the previous secret until `previous_secret_expires_at`."""
    sub = await webhooks.get_subscription(
        session, owner_id=principal.owner_id, webhook_id=webhook_id, for_update=True
    )
    seconds = body.previous_secret_valid_seconds if body else None
    if seconds is None:
        seconds = request.app.state.settings.webhook_secret_grace_hours * 3600
    sub = await webhooks.rotate_secret(session, sub=sub, grace=timedelta(seconds=seconds))
    response.headers["ETag"] = webhooks.webhook_etag(sub)
    return webhooks.to_created(sub)


@router.post("/webhooks/{webhook_id}/enable", response_model=WebhookRead, tags=["webhooks"])
async def enable_webhook(
    webhook_id: WebhookId,
    principal: WritePrincipal,
    session: SessionDep,
    response: Response,
    body: WebhookEnable | None = None,
) -> WebhookRead:
    """Resume a disabled subscription; events since it was disabled are delivered too."""
    sub = await webhooks.get_subscription(
        session, owner_id=principal.owner_id, webhook_id=webhook_id, for_update=True
    )
    sub = await webhooks.enable(session, sub=sub)
    response.headers["ETag"] = webhooks.webhook_etag(sub)
    return webhooks.to_read(sub)


@router.get(
    "/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryRead], tags=["webhooks"]
)
async def list_webhook_deliveries(
    webhook_id: WebhookId,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    delivery_status: Annotated[
        DeliveryStatus | None, Query(alias="status", description="Only deliveries in this state.")
    ] = None,
) -> Page[DeliveryRead]:
    """Deliveries of events to this subscription, newest first, with every attempt."""
    await webhooks.get_subscription(session, owner_id=principal.owner_id, webhook_id=webhook_id)
    data, next_cursor = await webhooks.list_deliveries(
        session,
        owner_id=principal.owner_id,
        webhook_id=webhook_id,
        status=delivery_status,
        limit=limit,
        cursor=cursor,
    )
    return Page(data=data, next_cursor=next_cursor)


@router.post(
    "/webhooks/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryRead,
    response_description="The new delivery, pending: the webhook worker sends it.",
    tags=["webhooks"],
)
async def test_webhook(
    webhook_id: WebhookId,
    principal: WritePrincipal,
    session: SessionDep,
    body: WebhookAction | None = None,
) -> DeliveryRead:
    """Send a signed `webhook.test` event to this subscription alone, as deliveries are sent
    (retried, every attempt logged); it is not in the feed. Answers the delivery, pending."""
    sub = await webhooks.get_subscription(
        session, owner_id=principal.owner_id, webhook_id=webhook_id, for_update=True
    )
    return await webhooks.send_test(session, sub=sub)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryRead,
    response_description="The new delivery, pending: the webhook worker sends it.",
    tags=["webhooks"],
)
async def redeliver_delivery(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    principal: WritePrincipal,
    session: SessionDep,
    body: WebhookAction | None = None,
) -> DeliveryRead:
    """Send a delivery's event again, as a new delivery (the old one keeps its attempts).
    Answers the new delivery, pending."""
    sub = await webhooks.get_subscription(
        session, owner_id=principal.owner_id, webhook_id=webhook_id, for_update=True
    )
    return await webhooks.redeliver(session, sub=sub, delivery_id=delivery_id)
