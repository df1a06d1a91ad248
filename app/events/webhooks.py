"""Webhook subscriptions: create, read, rotate the secret, re-enable, delete, and the log of
their deliveries."""

import base64
import secrets
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.models import Owner
from app.core.errors import Conflict, NotFound, UnprocessableContent
from app.core.etag import make_etag
from app.core.outbox import Event
from app.core.pagination import keyset_page
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.events.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.events.schemas import (
    AttemptRead,
    DeliveryRead,
    DeliveryStatus,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookStatus,
)
from app.events.targets import Resolver, TargetRefused, check_target

SECRET_PREFIX = "whsec_"  # noqa: S105  (the Standard Webhooks prefix, not a secret)
SECRET_BYTES = 32  # the Standard Webhooks spec asks for 24 to 64
MAX_SUBSCRIPTIONS = 25


class WebhookNotFound(NotFound):
    type, title = "webhook-not-found", "Webhook not found"


class TooManyWebhooks(Conflict):
    type, title = "too-many-webhooks", "Too many webhooks"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def to_read(sub: WebhookSubscription) -> WebhookRead:
    return WebhookRead.model_validate(sub, from_attributes=True)


def webhook_etag(sub: WebhookSubscription) -> str:
    return make_etag(sub.version)


def matches(patterns: list[str], event_type: str) -> bool:
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


async def _lock_owner(session: AsyncSession, owner_id: str) -> None:
    """Make the owner's creations count and insert one at a time, until each commits: two
    that counted 24 together would both insert. FOR NO KEY UPDATE, not FOR UPDATE: it does
    not conflict with the key-share lock that inserting any row of the owner's takes, so
    their other writes do not wait. SQLite has no row locks and needs none: a write
    transaction holds the database's write lock from its BEGIN IMMEDIATE."""
    await session.exec(select(Owner.id).where(Owner.id == owner_id).with_for_update(key_share=True))


async def create_subscription(
    session: AsyncSession,
    *,
    owner_id: str,
    data: WebhookCreate,
    resolver: Resolver,
    allow_private: bool,
) -> WebhookSubscription:
    await validate_url(data.url, resolver=resolver, allow_private=allow_private)
    await _lock_owner(session, owner_id)
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
    return sub


async def enable(session: AsyncSession, *, sub: WebhookSubscription) -> WebhookSubscription:
    """Resume deliveries. Events that happened while disabled are delivered too: the
    fan-out cursor stopped where the subscription was disabled."""
    if sub.status != WebhookStatus.active.value:
        sub.status = WebhookStatus.active.value
        sub.disabled_reason, sub.disabled_at = None, None
        # A fresh start for the disabling rule (app/events/delivery.py).
        sub.last_success_at = utcnow()
        _touch(sub)
        session.add(sub)
        await session.flush()
    return sub


async def delete_subscription(session: AsyncSession, *, sub: WebhookSubscription) -> None:
    # Its deliveries and their attempts go with it (ON DELETE CASCADE).
    await session.delete(sub)
    await session.flush()


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
    return [
        DeliveryRead(
            id=d.id,
            event_id=d.event_id,
            event_type=d.event_type,
            status=DeliveryStatus(d.status),
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            finished_at=d.finished_at,
            attempts=attempts[d.id],
        )
        for d in rows
    ], next_cursor
