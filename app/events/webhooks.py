"""Webhook subscriptions: create, read, change, rotate the secret, re-enable, delete, send a
test event or an event again, and the log of their deliveries. Every change to one is an
event of its own (`webhook.created|updated|deleted`), its secret never in it."""

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.service import lock_owner
from app.core.errors import Conflict, NotFound, UnprocessableContent
from app.core.etag import make_etag
from app.core.outbox import Event, record_event
from app.core.pagination import keyset_page
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.events.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.events.schemas import (
    TEST_EVENT_TYPE,
    AttemptRead,
    DeliveryRead,
    DeliveryStatus,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookStatus,
    WebhookUpdate,
)
from app.events.targets import Resolver, TargetRefused, check_target

SECRET_PREFIX = "whsec_"  # noqa: S105  (the Standard Webhooks prefix, not a secret)
SECRET_BYTES = 32  # the Standard Webhooks spec asks for 24 to 64
MAX_SUBSCRIPTIONS = 25


class WebhookNotFound(NotFound):
    type, title = "webhook-not-found", "Webhook not found"


class TooManyWebhooks(Conflict):
    type, title = "too-many-webhooks", "Too many webhooks"


class WebhookDisabled(Conflict):
    type, title = "webhook-disabled", "Webhook disabled"


class DeliveryNotFound(NotFound):
    type, title = "delivery-not-found", "Delivery not found"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def to_read(sub: WebhookSubscription) -> WebhookRead:
    return WebhookRead.model_validate(sub, from_attributes=True)


def webhook_etag(sub: WebhookSubscription) -> str:
    return make_etag(sub.version)


def record_change(session: AsyncSession, sub: WebhookSubscription, type_: str) -> None:
    """`webhook.created|updated|deleted`, with the subscription as a read shows it (no
    secret). Not delivered to the subscription it is about (app/events/delivery.py)."""
    record_event(
        session,
        owner_id=sub.owner_id,
        type=type_,
        resource="webhook",
        resource_id=sub.id,
        data=to_read(sub),
    )


def matches(patterns: Iterable[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


async def validate_url(url: str, *, resolver: Resolver, allow_private: bool) -> None:
    try:
        await check_target(url, resolver=resolver, allow_private=allow_private)
    except TargetRefused as exc:
        raise UnprocessableContent(
            f"The webhook URL is refused: {exc}.", errors=[{"field": "url", "message": str(exc)}]
        ) from exc


async def create_subscription(
    session: AsyncSession,
    *,
    owner_id: str,
    data: WebhookCreate,
    resolver: Resolver,
    allow_private: bool,
) -> WebhookSubscription:
    await validate_url(data.url, resolver=resolver, allow_private=allow_private)
    await lock_owner(session, owner_id)  # two that counted 24 together would both insert
    count = (
        await session.exec(select(func.count()).where(WebhookSubscription.owner_id == owner_id))
    ).one()
    if count >= MAX_SUBSCRIPTIONS:
        raise TooManyWebhooks(
            f"An owner may have at most {MAX_SUBSCRIPTIONS} webhooks; delete one first."
        )
    # Events from here on: the feed is in commit order (app/events/service.py), so every
    # event committed after this read has a higher seq.
    last_seq = (
        await session.exec(select(func.max(Event.seq)).where(Event.owner_id == owner_id))
    ).one()
    now = utcnow()
    sub = WebhookSubscription(
        owner_id=owner_id,
        id=new_id("wh"),
        url=data.url,
        description=data.description or None,
        events=list(dict.fromkeys(data.events)),
        secret=new_secret(),
        status=WebhookStatus.active.value,
        last_seq=last_seq or 0,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    await session.flush()
    record_change(session, sub, "webhook.created")
    return sub


def to_created(sub: WebhookSubscription) -> WebhookCreated:
    """The subscription with its current secret, for the two answers that show it once."""
    return WebhookCreated(**to_read(sub).model_dump(), secret=sub.secret)


async def get_subscription(
    session: AsyncSession, *, owner_id: str, webhook_id: str, for_update: bool = False
) -> WebhookSubscription:
    return await get_owned_or_404(
        session,
        WebhookSubscription,
        owner_id=owner_id,
        id=webhook_id,
        not_found=WebhookNotFound(f"No webhook {webhook_id}."),
        for_update=for_update,
    )


async def list_subscriptions(
    session: AsyncSession, *, owner_id: str, limit: int, cursor: str | None
) -> tuple[list[WebhookRead], str | None]:
    rows, next_cursor = await keyset_page(
        session,
        select(WebhookSubscription).where(WebhookSubscription.owner_id == owner_id),
        order=[col(WebhookSubscription.id)],
        kind="webhook",
        owner_id=owner_id,
        cursor=cursor,
        limit=limit,
    )
    return [to_read(s) for s in rows], next_cursor


def _touch(sub: WebhookSubscription) -> None:
    sub.version += 1
    sub.updated_at = utcnow()


async def rotate_secret(
    session: AsyncSession, *, sub: WebhookSubscription, grace: timedelta
) -> WebhookSubscription:
    """A new secret signs from now on; the old one also signs for `grace`, so that the
    receiver can switch over with no delivery it cannot verify (the spec allows several
    signatures in `webhook-signature`)."""
    if grace > timedelta(0):
        sub.previous_secret = sub.secret
        sub.previous_secret_expires_at = utcnow() + grace
    else:
        sub.previous_secret, sub.previous_secret_expires_at = None, None
    sub.secret = new_secret()
    _touch(sub)
    session.add(sub)
    await session.flush()
    record_change(session, sub, "webhook.updated")
    return sub


def _enable(sub: WebhookSubscription) -> bool:
    """Whether it changed. Events that happened while disabled are delivered too: the
    fan-out cursor stopped where the subscription was disabled."""
    if sub.status == WebhookStatus.active.value:
        return False
    sub.status = WebhookStatus.active.value
    sub.disabled_reason, sub.disabled_at = None, None
    # A fresh start for the disabling rule (app/events/delivery.py).
    sub.last_success_at = utcnow()
    return True


def _disable(sub: WebhookSubscription) -> bool:
    if sub.status == WebhookStatus.disabled.value:
        return False
    sub.status = WebhookStatus.disabled.value
    sub.disabled_reason = "Disabled by its owner (enabled: false)."
    sub.disabled_at = utcnow()
    return True


async def _save_change(session: AsyncSession, sub: WebhookSubscription) -> WebhookSubscription:
    _touch(sub)
    session.add(sub)
    await session.flush()
    record_change(session, sub, "webhook.updated")
    return sub


async def enable(session: AsyncSession, *, sub: WebhookSubscription) -> WebhookSubscription:
    """Resume deliveries, with the events that happened meanwhile."""
    return await _save_change(session, sub) if _enable(sub) else sub


async def update_subscription(
    session: AsyncSession,
    *,
    sub: WebhookSubscription,
    data: WebhookUpdate,
    resolver: Resolver,
    allow_private: bool,
) -> WebhookSubscription:
    """Change what was sent, checked as at creation; a request that changes nothing
    leaves the version, and the feed, as they were."""
    sent = data.model_fields_set
    changed = False
    if "url" in sent and data.url != sub.url:
        await validate_url(data.url, resolver=resolver, allow_private=allow_private)  # type: ignore[arg-type]
        sub.url, changed = data.url, True  # type: ignore[assignment]
    if "events" in sent:
        events = list(dict.fromkeys(data.events or ()))
        if events != sub.events:
            sub.events, changed = events, True
    if "description" in sent and (data.description or None) != sub.description:
        sub.description, changed = data.description or None, True
    if "enabled" in sent:
        changed = (_enable(sub) if data.enabled else _disable(sub)) or changed
    return await _save_change(session, sub) if changed else sub


async def delete_subscription(session: AsyncSession, *, sub: WebhookSubscription) -> None:
    record_change(session, sub, "webhook.deleted")
    # Its deliveries and their attempts go with it (ON DELETE CASCADE).
    await session.delete(sub)
    await session.flush()


def _schedule(sub: WebhookSubscription, *, event_id: str, event_type: str) -> WebhookDelivery:
    """A delivery due now, claimed by the worker like any other (retries, attempts logged)."""
    if sub.status != WebhookStatus.active.value:
        raise WebhookDisabled(
            f"Webhook {sub.id} is disabled ({sub.disabled_reason}); enable it first.",
        )
    return pending_delivery(sub, event_id=event_id, event_type=event_type, now=utcnow())


def pending_delivery(
    sub: WebhookSubscription, *, event_id: str, event_type: str, now: datetime
) -> WebhookDelivery:
    """A delivery of one event to `sub`, due at once: the worker claims it like any other."""
    return WebhookDelivery(
        owner_id=sub.owner_id,
        id=new_id("whd"),
        subscription_id=sub.id,
        event_id=event_id,
        event_type=event_type,
        status=DeliveryStatus.pending.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


async def send_test(session: AsyncSession, *, sub: WebhookSubscription) -> DeliveryRead:
    """A `webhook.test` event for this subscription alone, whatever its `events`. It is not
    in the feed: its body is made when it is sent, from the delivery
    (app/events/delivery.py), under an event id of its own."""
    delivery = _schedule(sub, event_id=new_id("ev"), event_type=TEST_EVENT_TYPE)
    session.add(delivery)
    await session.flush()
    return to_delivery_read(delivery, [])


async def redeliver(
    session: AsyncSession, *, sub: WebhookSubscription, delivery_id: str
) -> DeliveryRead:
    """The delivery's event again, as a new delivery: the old one keeps its attempts as they
    were. The same event id (`webhook-id`), so a receiver that already has it can tell."""
    original = await get_owned_or_404(
        session,
        WebhookDelivery,
        owner_id=sub.owner_id,
        id=delivery_id,
        extra=[WebhookDelivery.subscription_id == sub.id],
        not_found=DeliveryNotFound(f"Webhook {sub.id} has no delivery {delivery_id}."),
    )
    delivery = _schedule(sub, event_id=original.event_id, event_type=original.event_type)
    session.add(delivery)
    await session.flush()
    return to_delivery_read(delivery, [])


def to_delivery_read(delivery: WebhookDelivery, attempts: list[AttemptRead]) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=DeliveryStatus(delivery.status),
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        finished_at=delivery.finished_at,
        attempts=attempts,
    )


async def list_deliveries(
    session: AsyncSession,
    *,
    owner_id: str,
    webhook_id: str,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[DeliveryRead], str | None]:
    """Newest first, each with all its attempts (at most GOODWILL_WEBHOOK_MAX_ATTEMPTS)."""
    query = select(WebhookDelivery).where(
        WebhookDelivery.owner_id == owner_id, WebhookDelivery.subscription_id == webhook_id
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status.value)
    rows, next_cursor = await keyset_page(
        session,
        query,
        order=[col(WebhookDelivery.id)],
        descending=True,
        kind=f"webhook_delivery:{webhook_id}",
        owner_id=owner_id,
        cursor=cursor,
        limit=limit,
    )
    attempts: dict[str, list[AttemptRead]] = {d.id: [] for d in rows}
    if rows:
        found = await session.exec(
            select(WebhookAttempt)
            .where(
                WebhookAttempt.owner_id == owner_id,
                col(WebhookAttempt.delivery_id).in_(list(attempts)),
            )
            .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.attempt))
        )
        for attempt in found.all():
            attempts[attempt.delivery_id].append(
                AttemptRead.model_validate(attempt, from_attributes=True)
            )
    return [to_delivery_read(d, attempts[d.id]) for d in rows], next_cursor
