"""The owner's rules, read by the ledger and the introductions."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.etag import make_etag
from app.core.reads import Reader
from app.core.repository import get_owned
from app.core.types import utcnow
from app.settings.models import OwnerSettings
from app.settings.schemas import DEFAULTS, SettingsRead, SettingsUpdate


def to_read(settings: OwnerSettings | None) -> SettingsRead:
    if settings is None:
        return SettingsRead(**DEFAULTS, updated_at=None)
    return SettingsRead.model_validate(settings, from_attributes=True)


def settings_etag(settings: OwnerSettings | None) -> str:
    return make_etag(settings.version if settings else 0)


async def get_settings(
    session: AsyncSession, *, owner_id: str, for_update: bool = False
) -> OwnerSettings | None:
    return await get_owned(session, OwnerSettings, owner_id=owner_id, for_update=for_update)


async def get_rules(session: AsyncSession, *, owner_id: str) -> SettingsRead:
    return to_read(await get_settings(session, owner_id=owner_id))


# Every rule in one row, built once: for the reads that need several rules and run on a
# Reader, without a session (the agenda, suggestions).
_RULES = select(*(getattr(OwnerSettings, name) for name in DEFAULTS)).where(
    OwnerSettings.owner_id == bindparam("owner_id")
)


async def read_rules(reader: Reader, *, owner_id: str) -> Mapping[str, Any]:
    """The owner's rules by name (`DEFAULTS` when they never changed one)."""
    rows = await reader.rows(_RULES, {"owner_id": owner_id})
    return rows[0] if rows else DEFAULTS


def owner_rule(name: str, owner_id: Any) -> Any:
    """One of the owner's rules (a column of `owner_settings`, or its default) as a scalar
    subquery, so that a read brings the rule along instead of asking for it in a second
    round trip."""
    rule = select(getattr(OwnerSettings, name)).where(OwnerSettings.owner_id == owner_id)
    return func.coalesce(rule.scalar_subquery(), DEFAULTS[name])


def owner_ratio(owner_id: Any) -> Any:
    """The owner's reciprocity ratio (`owner_rule`), which every read of contacts needs."""
    return owner_rule("reciprocity_ratio", owner_id)


async def reciprocity_ratio(session: AsyncSession, *, owner_id: str) -> int:
    ratio = (
        await session.exec(
            select(OwnerSettings.reciprocity_ratio).where(OwnerSettings.owner_id == owner_id)
        )
    ).first()
    return ratio if ratio is not None else DEFAULTS["reciprocity_ratio"]


async def update_settings(
    session: AsyncSession,
    *,
    owner_id: str,
    current: OwnerSettings | None,
    changes: SettingsUpdate,
) -> OwnerSettings:
    if current is None:
        current = OwnerSettings(owner_id=owner_id, version=0, updated_at=utcnow(), **DEFAULTS)
    for name in changes.model_fields_set:
        setattr(current, name, getattr(changes, name))
    current.version += 1
    current.updated_at = utcnow()
    session.add(current)
    await session.flush()
    return current
