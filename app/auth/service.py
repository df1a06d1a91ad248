"""Owners and API keys. Secrets are shown once and stored only as SHA-256 hashes."""

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from cachetools import TTLCache
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.models import ApiKey, Owner
from app.auth.schemas import ApiKeyCreated, ApiKeyRead, Scope
from app.core.errors import Conflict, NotFound, Unauthenticated
from app.core.outbox import record_event
from app.core.pagination import keyset_page
from app.core.principal import Principal
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.settings.models import OwnerSettings
from app.settings.schemas import DEFAULTS

KEY_PREFIX = "gw_"


class ApiKeyNotFound(NotFound):
    type, title = "api-key-not-found", "API key not found"


class OwnerExists(Conflict):
    type, title = "owner-exists", "Owner already exists"


class KeyCache:
    """Verified keys for a few seconds, so a busy client costs no lookup per request.
    Revocation in this process takes effect at once; in others after the TTL."""

    def __init__(self, ttl: float) -> None:
        self._cache: TTLCache[str, Principal] | None = (
            TTLCache(maxsize=10_000, ttl=ttl) if ttl > 0 else None
        )

    def get(self, digest: str) -> Principal | None:
        return self._cache.get(digest) if self._cache is not None else None

    def put(self, digest: str, principal: Principal) -> None:
        if self._cache is not None:
            self._cache[digest] = principal

    def forget_key(self, key_id: str) -> None:
        if self._cache is not None:
            for digest, principal in list(self._cache.items()):
                if principal.key_id == key_id:
                    self._cache.pop(digest, None)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeys:
    """The app's `KeyVerifier` (app/core/principal.py): callers' keys, checked against the
    database behind a cache."""

    def __init__(self, cache_seconds: float) -> None:
        self.cache = KeyCache(cache_seconds)

    async def verify(
        self, secret: str, open_session: Callable[[], Awaitable[AsyncSession]]
    ) -> Principal:
        return await authenticate(secret, self.cache, open_session)


async def authenticate(
    secret: str, cache: KeyCache, open_session: Callable[[], Awaitable[AsyncSession]]
) -> Principal:
    """The key's principal, from the cache or else from the database (the session is
    opened only then)."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        raise Unauthenticated("The API key is not valid.")
    digest = hash_secret(secret)
    cached = cache.get(digest)
    if cached is not None:
        return cached
    session = await open_session()
    row = (
        await session.exec(
            select(ApiKey.id, ApiKey.owner_id, ApiKey.scopes, ApiKey.secret_hash).where(
                ApiKey.secret_hash == digest, col(ApiKey.revoked_at).is_(None)
            )
        )
    ).first()
    # The index lookup already matched the hash; the constant-time compare is belt and braces.
    if row is None or not hmac.compare_digest(row.secret_hash, digest):
        raise Unauthenticated("The API key is not valid or has been revoked.")
    principal = Principal(owner_id=row.owner_id, key_id=row.id, scopes=frozenset(row.scopes))
    cache.put(digest, principal)
    return principal


async def create_owner(session: AsyncSession, *, email: str, name: str | None) -> Owner:
    owner = Owner(id=new_id("own"), email=email.strip().lower(), name=name)
    session.add(owner)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise OwnerExists(f"An owner with email {owner.email} already exists.") from exc
    # The rules row exists from the start, so a change to it can always lock it.
    session.add(OwnerSettings(owner_id=owner.id, version=1, updated_at=utcnow(), **DEFAULTS))
    await session.flush()
    return owner


async def get_owner(session: AsyncSession, owner_id: str) -> Owner:
    owner = await session.get(Owner, owner_id)
    if owner is None:
        raise NotFound("No such owner.")
    return owner


async def get_owner_by_email(session: AsyncSession, email: str) -> Owner:
    owner = (await session.exec(select(Owner).where(Owner.email == email.strip().lower()))).first()
    if owner is None:
        raise NotFound(f"No owner with email {email}.")
    return owner


def _read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead.model_validate(key, from_attributes=True)


async def create_api_key(
    session: AsyncSession, *, owner_id: str, name: str, scopes: list[Scope]
) -> ApiKeyCreated:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    ordered = [s.value for s in Scope if s in scopes]
    key = ApiKey(
        id=new_id("key"),
        owner_id=owner_id,
        name=name,
        secret_hash=hash_secret(secret),
        prefix=secret[:10],
        scopes=ordered,
    )
    session.add(key)
    await session.flush()
    read = _read(key)
    record_event(
        session,
        owner_id=owner_id,
        type="api_key.created",
        resource="api_key",
        resource_id=key.id,
        data=read,
    )
    return ApiKeyCreated(**read.model_dump(), api_key=secret)


async def get_api_key(session: AsyncSession, *, owner_id: str, key_id: str) -> ApiKey:
    return await get_owned_or_404(
        session,
        ApiKey,
        owner_id=owner_id,
        id=key_id,
        not_found=ApiKeyNotFound(f"No API key {key_id}."),
    )


async def list_api_keys(
    session: AsyncSession, *, owner_id: str, limit: int, cursor: str | None
) -> tuple[list[ApiKeyRead], str | None]:
    rows, next_cursor = await keyset_page(
        session,
        select(ApiKey).where(ApiKey.owner_id == owner_id),
        order=[col(ApiKey.id)],
        kind="api_key",
        owner_id=owner_id,
        cursor=cursor,
        limit=limit,
    )
    return [_read(k) for k in rows], next_cursor


async def revoke_api_key(session: AsyncSession, *, owner_id: str, key: ApiKey) -> None:
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    session.add(key)
    await session.flush()
    record_event(
        session,
        owner_id=owner_id,
        type="api_key.revoked",
        resource="api_key",
        resource_id=key.id,
        data=_read(key),
    )


def api_key_etag_version(key: ApiKey | ApiKeyRead) -> str:
    return "revoked" if key.revoked_at else "active"


async def lock_owner(session: AsyncSession, owner_id: str) -> None:
    """Make the owner's writes of one kind that must see each other (creating webhooks under
    the cap, upserting contacts by reference) run one at a time, each until it commits: two
    that looked up the same thing together would both insert it. FOR NO KEY UPDATE, not FOR
    UPDATE: it does not conflict with the key-share lock that inserting any row of the
    owner's takes, so the owner's other writes do not wait. SQLite has no row locks and needs
    none: a write transaction holds the database's write lock from its BEGIN IMMEDIATE."""
    await session.exec(select(Owner.id).where(Owner.id == owner_id).with_for_update(key_share=True))
