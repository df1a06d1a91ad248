"""The server's signing secret, and the values signed with it (cursors, consent-form tokens).

The secret is a row in the database, made by `goodwill migrate` (migration 0009): every
replica and worker that shares the database shares it, it survives restarts, and nobody
has to configure it. Each process reads it once at start (`load_secret`, from the app's
lifespan) and keeps it. Rotating it (deleting the row, then restarting every process)
turns every outstanding cursor and open consent form into a 400, nothing worse.

Signing uses `itsdangerous` with a salt per purpose, so a value signed for one use (a
contacts cursor of one owner) never verifies for another (the feed, another owner).
"""

import hashlib
import secrets
from datetime import datetime
from typing import Any

import orjson
from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import Column, String, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow

SIGNING = "signing"


class ServerSecret(SQLModel, table=True):
    """Secrets of the service itself, not of an owner: the one table without `owner_id`
    besides `owner`."""

    __tablename__ = "server_secret"

    name: str = Field(sa_column=Column(String(40), primary_key=True))
    value: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class _Json:
    """orjson for itsdangerous: compact, and strict about what it reads back."""

    @staticmethod
    def dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return orjson.loads(text)


class Invalid(Exception):
    """A signed value that this server did not issue for this purpose, or that has expired."""


_secret: bytes | None = None


def new_secret_value() -> str:
    return secrets.token_urlsafe(48)


async def load_secret(engine: AsyncEngine) -> None:
    """Read the signing secret into this process, making it if the row is missing."""
    global _secret
    table = ServerSecret.__table__  # type: ignore[attr-defined]
    query = select(table.c.value).where(table.c.name == SIGNING)
    async with engine.connect() as conn:
        value = (await conn.execute(query)).scalar_one_or_none()
    if value is None:
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    insert(table).values(
                        name=SIGNING, value=new_secret_value(), created_at=utcnow()
                    )
                )
        except IntegrityError:
            pass  # another process made it first; theirs is the one
        async with engine.connect() as conn:
            value = (await conn.execute(query)).scalar_one()
    _secret = value.encode()


def _key() -> bytes:
    if _secret is None:
        raise RuntimeError("the signing secret is not loaded (app.core.signing.load_secret)")
    return _secret


def _serializer(purpose: str, *, timed: bool = False) -> URLSafeSerializer:
    kind = URLSafeTimedSerializer if timed else URLSafeSerializer
    return kind(
        _key(), salt=purpose, serializer=_Json, signer_kwargs={"digest_method": hashlib.sha256}
    )


def sign(purpose: str, value: Any, *, timed: bool = False) -> str:
    """`value` (JSON) as a URL-safe string that only this server could have made; `timed`
    adds when it was made, for `unsign`'s `max_age_seconds`."""
    return _serializer(purpose, timed=timed).dumps(value)


def unsign(purpose: str, token: str, *, max_age_seconds: int | None = None) -> Any:
    """The value `sign` was given, or Invalid: not signed here for this purpose, altered,
    or (with `max_age_seconds`) older than that."""
    try:
        if max_age_seconds is None:
            return _serializer(purpose).loads(token)
        serializer = _serializer(purpose, timed=True)
        return serializer.loads(token, max_age=max_age_seconds)  # type: ignore[call-arg]
    except (BadData, ValueError) as exc:
        raise Invalid from exc
