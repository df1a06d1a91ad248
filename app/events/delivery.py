"""Webhook delivery, one step at a time: fan events out to delivery rows, claim the due ones,
POST each signed, and record how it went.

Transactional outbox: the `event` table is the outbox, written in the transaction of the
change it describes. Each subscription keeps a cursor (`last_seq`) over its owner's events;
the fan-out turns the events past it into delivery rows and moves it in one transaction. A
crash anywhere therefore loses nothing: an event is committed before anyone reads it, the
cursor only moves together with the rows it stands for, and a claimed delivery whose worker
died is claimed again when its lease runs out (at least once; receivers deduplicate on
`webhook-id`, the event id).
"""

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import orjson
from sqlalchemy import and_, exists, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook
from ulid import ULID

from app.core.config import Settings
from app.core.outbox import Event
from app.core.types import new_id, utcnow
from app.events.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from app.events.schemas import TEST_EVENT_TYPE, DeliveryStatus, EventRead, WebhookStatus
from app.events.targets import Resolver, TargetRefused, check_target, pinned_request
from app.events.webhooks import matches, pending_delivery, record_change

log = logging.getLogger("goodwill.webhooks")

# Waits before attempts 2, 3, ... in units of GOODWILL_WEBHOOK_RETRY_BASE_SECONDS (5 s):
# 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, 12 h; eight attempts span about 19 hours.
RETRY_MULTIPLIERS = (1, 6, 24, 120, 720, 4320, 8640)
JITTER = 0.2  # each wait is drawn from +/-20% around its nominal value
FANOUT_SUBSCRIPTIONS = 50  # per pass, so one pass stays short however much is waiting
FANOUT_EVENTS = 500
LEASE_MARGIN_SECONDS = 30
USER_AGENT = "Goodwill-Webhooks/1.0"
_jitter = random.SystemRandom()
# Literal, not a bound parameter, so PostgreSQL can use the partial index on pending rows.
_IS_PENDING = text("webhook_delivery.status = 'pending'")
_ACTIVE = WebhookStatus.active.value


def retry_delay(settings: Settings, failed_attempt: int) -> timedelta:
    multiplier = RETRY_MULTIPLIERS[min(failed_attempt, len(RETRY_MULTIPLIERS)) - 1]
    nominal = settings.webhook_retry_base_seconds * multiplier
    return timedelta(seconds=nominal * _jitter.uniform(1 - JITTER, 1 + JITTER))


def _joins_subscription() -> object:
    return and_(
        WebhookSubscription.owner_id == WebhookDelivery.owner_id,
        WebhookSubscription.id == WebhookDelivery.subscription_id,
    )


def _has_new_events() -> object:
    return exists().where(
        Event.owner_id == WebhookSubscription.owner_id,
        col(Event.seq) > WebhookSubscription.last_seq,
    )


async def has_work(session: AsyncSession) -> bool:
    """A read, so that an idle worker never takes SQLite's write lock."""
    fan_out_due = select(WebhookSubscription.id).where(
        WebhookSubscription.status == _ACTIVE, _has_new_events()
    )
    delivery_due = (
        select(WebhookDelivery.id)
        .join(WebhookSubscription, _joins_subscription())
        .where(
            _IS_PENDING,
            col(WebhookDelivery.next_attempt_at) <= utcnow(),
            WebhookSubscription.status == _ACTIVE,
        )
    )
    found = await session.exec(select(exists(fan_out_due), exists(delivery_due)))
    return any(found.one())


async def fan_out(session: AsyncSession) -> int:
    """Delivery rows for the events past each active subscription's cursor; returns the
    number of subscriptions moved on. Subscriptions another worker holds are skipped."""
    subs = (
        await session.exec(
            select(WebhookSubscription)
            .where(WebhookSubscription.status == _ACTIVE, _has_new_events())
            .order_by(col(WebhookSubscription.owner_id), col(WebhookSubscription.id))
            .limit(FANOUT_SUBSCRIPTIONS)
            .with_for_update(skip_locked=True)
        )
    ).all()
    now = utcnow()
    for sub in subs:
        events = (
            await session.exec(
                select(Event.seq, Event.id, Event.type, Event.resource_id)
                .where(Event.owner_id == sub.owner_id, col(Event.seq) > sub.last_seq)
                .order_by(col(Event.seq))
                .limit(FANOUT_EVENTS)
            )
        ).all()
        for _seq, event_id, event_type, resource_id in events:
            # Not the subscription's own changes: its creation, edits and disabling are
            # news to the owner's other subscriptions and the feed, not to its receiver.
            if resource_id != sub.id and matches(sub.events, event_type):
                session.add(
                    pending_delivery(sub, event_id=event_id, event_type=event_type, now=now)
                )
        if events:
            sub.last_seq = events[-1][0]
            session.add(sub)
    await session.flush()
    return len(subs)


def webhook_test_event(event_id: str, webhook_id: str) -> dict[str, object]:
    """A `webhook.test` event, made from its delivery since it is in no feed: the same body
    each time it is sent, its time the one its id was made at."""
    made_at = ULID.from_str(event_id.partition("_")[2].upper()).datetime
    return EventRead(
        id=event_id,
        type=TEST_EVENT_TYPE,
        resource="webhook",
        resource_id=webhook_id,
        occurred_at=made_at,
        data={"webhook_id": webhook_id, "test": True},
    ).model_dump(mode="json")


@dataclass(frozen=True)
class Claim:
    owner_id: str
    delivery_id: str
    subscription_id: str
    attempt: int  # the number this attempt will have
    url: str
    secrets: tuple[str, ...]  # the current secret first, then the previous one if still valid
    event_id: str
    body: str | None  # the event as JSON; None if the event no longer exists


async def claim(session: AsyncSession, *, limit: int, lease: timedelta) -> list[Claim]:
    """Take up to `limit` due deliveries, pushing each one's due time past the lease so that
    no other worker takes it meanwhile. `SKIP LOCKED` lets any number of workers claim side
    by side on PostgreSQL; SQLite's single writer does the same for its workers."""
    now = utcnow()
    rows = (
        await session.exec(
            select(WebhookDelivery, WebhookSubscription)
            .join(WebhookSubscription, _joins_subscription())
            .where(
                _IS_PENDING,
                col(WebhookDelivery.next_attempt_at) <= now,
                WebhookSubscription.status == _ACTIVE,
            )
            .order_by(col(WebhookDelivery.next_attempt_at))
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)  # type: ignore[arg-type]
        )
    ).all()
    if not rows:
        return []
    event_ids = [d.event_id for d, _ in rows]
    events = {
        e.id: e for e in (await session.exec(select(Event).where(col(Event.id).in_(event_ids))))
    }
    claims = []
    for delivery, sub in rows:
        delivery.next_attempt_at = now + lease
        session.add(delivery)
        event = events.get(delivery.event_id)
        body = None
        if event is not None:
            body = orjson.dumps(
                EventRead.model_validate(event, from_attributes=True).model_dump(mode="json")
            ).decode()
        elif delivery.event_type == TEST_EVENT_TYPE:
            body = orjson.dumps(webhook_test_event(delivery.event_id, sub.id)).decode()
        keys = [sub.secret]
        expires = sub.previous_secret_expires_at
        if sub.previous_secret and expires is not None and expires > now:
            keys.append(sub.previous_secret)
        claims.append(
            Claim(
                owner_id=delivery.owner_id,
                delivery_id=delivery.id,
                subscription_id=sub.id,
                attempt=delivery.attempts + 1,
                url=sub.url,
                secrets=tuple(keys),
                event_id=delivery.event_id,
                body=body,
            )
        )
    await session.flush()
    return claims


def signature_headers(claim: Claim, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers; one `v1,` signature per valid secret, space separated."""
    signatures = [Webhook(secret).sign(claim.event_id, at, body) for secret in claim.secrets]
    return {
        "webhook-id": claim.event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(
    client: httpx.AsyncClient, resolver: Resolver, claim: Claim, *, settings: Settings
) -> Outcome:
    """One attempt: re-check where the URL points now, POST, and say how it went. Never
    raises; redirects are not followed (a 3xx is a failure)."""
    started, started_at = time.monotonic(), utcnow()

    def outcome(status_code: int | None, error: str | None) -> Outcome:
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(started_at, status_code, error[:500] if error else None, elapsed)

    if claim.body is None:
        return outcome(None, "the event no longer exists")
    timeout = settings.webhook_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            target = await check_target(
                claim.url, resolver=resolver, allow_private=settings.webhook_allow_private
            )
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                **signature_headers(claim, claim.body, utcnow()),
            }
            for n, address in enumerate(target.addresses):
                request = pinned_request(
                    client, target, address, content=claim.body.encode(), headers=headers
                )
                try:
                    # Streamed and closed unread: the receiver's body is never needed, and
                    # a large one must not be buffered.
                    response = await client.send(request, stream=True, follow_redirects=False)
                except httpx.ConnectError:
                    if n == len(target.addresses) - 1:
                        raise
                    continue
                await response.aclose()
                code = response.status_code
                if 200 <= code < 300:
                    return outcome(code, None)
                return outcome(code, f"HTTP {code} {response.reason_phrase}".strip())
    except TargetRefused as exc:
        return outcome(None, f"refused: {exc}")
    except TimeoutError:
        return outcome(None, f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return outcome(None, f"{type(exc).__name__}: {exc}".rstrip(": "))
    return outcome(None, "no address to connect to")


def _disable(sub: WebhookSubscription, reason: str, now: datetime) -> None:
    sub.status = WebhookStatus.disabled.value
    sub.disabled_reason = reason[:500]
    sub.disabled_at = now
    sub.version += 1
    sub.updated_at = now


async def _lock(
    session: AsyncSession, claim: Claim
) -> tuple[WebhookSubscription, WebhookDelivery] | None:
    """The claim's subscription and delivery, locked; None if the attempt is no longer ours
    to record (the subscription was deleted, or our lease ran out and another worker
    recorded this attempt)."""
    # The subscription before the delivery: the order a DELETE of the subscription locks
    # them in (its row, then its deliveries by cascade), so the two cannot deadlock.
    sub = (
        await session.exec(
            select(WebhookSubscription)
            .where(
                WebhookSubscription.owner_id == claim.owner_id,
                WebhookSubscription.id == claim.subscription_id,
            )
            .with_for_update()
        )
    ).first()
    if sub is None:
        return None
    delivery = (
        await session.exec(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.owner_id == claim.owner_id,
                WebhookDelivery.id == claim.delivery_id,
                WebhookDelivery.status == DeliveryStatus.pending.value,
                WebhookDelivery.attempts == claim.attempt - 1,
            )
            .with_for_update()
        )
    ).first()
    return None if delivery is None else (sub, delivery)


def _settle(
    sub: WebhookSubscription,
    delivery: WebhookDelivery,
    attempt: int,
    outcome: Outcome,
    settings: Settings,
) -> datetime | None:
    """Mark the delivery delivered, failed or due again, and disable the subscription when
    its receiver is gone; returns when the next attempt is due, if there is one."""
    now = utcnow()
    delivery.attempts = attempt
    delivery.next_attempt_at = None
    if outcome.ok:
        delivery.status, delivery.finished_at = DeliveryStatus.delivered.value, now
        sub.last_success_at = now
    elif outcome.status_code == 410:
        delivery.status, delivery.finished_at = DeliveryStatus.failed.value, now
        _disable(sub, "The receiver answered 410 Gone: it no longer wants these events.", now)
    elif attempt >= settings.webhook_max_attempts:
        delivery.status, delivery.finished_at = DeliveryStatus.failed.value, now
        # Given up on one message. Only if nothing at all reached the receiver while this
        # one was being retried (about 19 hours by default) is the receiver taken as dead;
        # a receiver that rejects one message but takes others stays subscribed.
        if sub.last_success_at is None or sub.last_success_at < delivery.created_at:
            _disable(
                sub,
                f"All {attempt} attempts at delivery {delivery.id} failed between "
                f"{delivery.created_at:%Y-%m-%dT%H:%M:%SZ} and {now:%Y-%m-%dT%H:%M:%SZ}, with no "
                f"successful delivery in between; the last: {outcome.error}",
                now,
            )
    else:
        delivery.next_attempt_at = now + retry_delay(settings, attempt)
    return delivery.next_attempt_at


async def record(session: AsyncSession, claim: Claim, outcome: Outcome, settings: Settings) -> None:
    """Log the attempt as a row of its own and settle what follows."""
    locked = await _lock(session, claim)
    if locked is None:
        return
    sub, delivery = locked
    was = sub.status
    next_at = _settle(sub, delivery, claim.attempt, outcome, settings)
    session.add_all([sub, delivery])
    if sub.status != was:  # disabled: the owner's feed says so, as for a PATCH
        record_change(session, sub, "webhook.updated")
    session.add(
        WebhookAttempt(
            owner_id=claim.owner_id,
            id=new_id("wha"),
            delivery_id=claim.delivery_id,
            attempt=claim.attempt,
            attempted_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.error,
            next_attempt_at=next_at,
        )
    )
    await session.flush()
    log.info(
        "webhook attempt",
        extra={
            "webhook_id": claim.subscription_id,
            "delivery_id": claim.delivery_id,
            "attempt": claim.attempt,
            "status_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
            "result": delivery.status,
            "subscription_status": sub.status,
        },
    )
