"""Idempotency-Key for POST: a retry with the same key and body gets the original answer.

The record is written in the same transaction as the work it describes (see
app/core/unit_of_work.py), so either both exist or neither does.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from fastapi import Request
from sqlalchemy import (
    Column,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    delete,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response

from app.core.errors import (
    PROBLEM_JSON,
    PROBLEM_TYPE_BASE,
    BadRequest,
    Conflict,
    GoodwillError,
    UnprocessableContent,
)
from app.core.tenancy import OwnerScoped
from app.core.types import UTCDateTime, utcnow

log = logging.getLogger("goodwill.idempotency")

HEADER = "idempotency-key"
_REPLAYED_HEADERS = ("content-type", "location", "etag")


class IdempotencyRecord(OwnerScoped, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "key"),)

    key: str = Field(sa_column=Column(String(255), nullable=False))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int = Field(sa_column=Column(Integer, nullable=False))
    content_type: str | None = Field(default=None, sa_column=Column(String(100)))
    location: str | None = Field(default=None, sa_column=Column(String(500)))
    etag: str | None = Field(default=None, sa_column=Column(String(100)))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


@dataclass(frozen=True)
class PendingKey:
    owner_id: str
    key: str
    fingerprint: str


class IdempotentReplay(GoodwillError):
    """Raised before any work is done; rendered as the stored response. The response is
    built at once: the transaction is rolled back before it is rendered."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__("replay")
        headers = {"Idempotent-Replayed": "true"}
        if record.location:
            headers["Location"] = record.location
        if record.etag:
            headers["ETag"] = record.etag
        self._response = Response(
            record.body.encode(),
            status_code=record.status_code,
            headers=headers,
            media_type=record.content_type,
        )

    def response(self) -> Response:
        return self._response


async def begin(
    request: Request, session: AsyncSession, owner_id: str, ttl: timedelta
) -> PendingKey | None:
    """Replay a known key (IdempotentReplay), refuse a reused one, or return the key for
    `finish`."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise BadRequest("Idempotency-Key must be 1-255 printable characters.")
    body = await request.body()
    fingerprint = hashlib.sha256(
        b"%s %s?%s\n%s"
        % (
            request.method.encode(),
            request.url.path.encode(),
            request.url.query.encode(),
            body,
        )
    ).hexdigest()
    record = (
        await session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key
            )
        )
    ).first()
    if record is not None and record.created_at < utcnow() - ttl:
        await session.delete(record)
        await session.flush()
        record = None
    if record is not None:
        if record.fingerprint != fingerprint:
            raise UnprocessableContent(
                "This Idempotency-Key was already used with a different request; "
                "use a new key for a new request."
            )
        raise IdempotentReplay(record)
    return PendingKey(owner_id, key, fingerprint)


async def finish(session: AsyncSession, pending: PendingKey, response: Response) -> None:
    headers = response.headers
    session.add(
        IdempotencyRecord(
            owner_id=pending.owner_id,
            key=pending.key,
            fingerprint=pending.fingerprint,
            status_code=response.status_code,
            content_type=headers.get("content-type"),
            location=headers.get("location"),
            etag=headers.get("etag"),
            body=bytes(response.body).decode(),
            created_at=utcnow(),
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        # Another request with the same key committed first; this one's work is rolled back.
        raise Conflict(
            "A request with this Idempotency-Key was being processed at the same time; "
            "retry to get its response."
        ) from exc


_ERASED_BODY = orjson.dumps(
    {
        "type": PROBLEM_TYPE_BASE + "erased",
        "title": "Gone",
        "status": 410,
        "detail": "What this request created or returned has since been erased.",
    }
).decode()


async def forget_responses_mentioning(session: AsyncSession, *, owner_id: str, text: str) -> None:
    """Erasure: stored responses that hold a contact's data lose it. The key itself stays
    taken, so a late retry of the original request cannot bring the person back."""
    await session.exec(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.body.contains(text))
        .values(
            status_code=410, content_type=PROBLEM_JSON, location=None, etag=None, body=_ERASED_BODY
        )
    )


async def purge_expired(session: AsyncSession, ttl: timedelta) -> int:
    result = await session.exec(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - ttl)
    )
    return result.rowcount or 0
