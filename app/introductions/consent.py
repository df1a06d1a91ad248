"""Asking the target: consent requests with single-use tokens, and recording answers."""

import hashlib
import hmac
import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service as contacts
from app.core import signing
from app.core.errors import Conflict
from app.core.types import utcnow
from app.introductions import workflow
from app.introductions.models import Introduction
from app.introductions.service import expire_due, transition
from app.introductions.workflow import Action, State
from app.settings.schemas import SettingsRead


class TooManyPendingConsents(Conflict):
    type, title = "too-many-pending-consents", "The target has too many pending requests"


class BenefitMissing(Conflict):
    type, title = "benefit-to-target-missing", "Say why it benefits the target"


class ConsentReissuedRecently(Conflict):
    type, title = "consent-reissued-recently", "The consent link was issued less than a day ago"


# A link is reissued at most once a day: the target is not to be sent a new one every hour.
REISSUE_INTERVAL = timedelta(days=1)
_LINK_PURPOSE = "consent-link"
TOKEN_LENGTHS = range(20, 161)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    """A random token, signed: only the current token's hash is stored, so a link replaced
    by a reissue is known by the signature alone, and answers 410 rather than 404."""
    return signing.sign(_LINK_PURPOSE, secrets.token_urlsafe(32))


def issued_here(token: str) -> bool:
    """Whether this server made `token` (for some introduction, at some time)."""
    try:
        signing.unsign(_LINK_PURPOSE, token)
    except signing.Invalid:
        return False
    return True


async def request_consent(
    session: AsyncSession, *, intro: Introduction, rules: SettingsRead
) -> str:
    """Ask the target, or while they have not answered, reissue the link (at most once a
    day; the old link stops working and the expiry starts again). Returns the single-use
    token (shown once, stored as a hash)."""
    reissue = State(intro.state) == State.awaiting_consent
    workflow.next_state(
        State(intro.state), Action.reissue_consent if reissue else Action.request_consent
    )
    if not (intro.benefit_to_target or "").strip():
        raise BenefitMissing(
            "A consent request must tell the target why the introduction benefits them; "
            "set benefit_to_target first."
        )
    now = utcnow()
    if reissue:
        # Still one pending request for the target, as before: the cap is not asked again.
        _refuse_reissue_too_soon(intro, now)
    else:
        await _refuse_over_cap(session, intro, rules)
    token = _new_token()
    intro.consent_token_hash = hash_token(token)
    intro.consent_requested_at = now
    intro.consent_expires_at = now + timedelta(days=rules.consent_ttl_days)
    await transition(
        session,
        intro,
        Action.reissue_consent if reissue else Action.request_consent,
        actor="owner",
        data={"expires_at": intro.consent_expires_at.isoformat()},
        event_type=workflow.EVENT_TYPES[State.awaiting_consent],
        feed_data={"reissued": reissue},
    )
    return token


def _refuse_reissue_too_soon(intro: Introduction, now: datetime) -> None:
    assert intro.consent_requested_at is not None  # set with the state
    allowed_at = intro.consent_requested_at + REISSUE_INTERVAL
    if now < allowed_at:
        wait = math.ceil((allowed_at - now).total_seconds())
        raise ConsentReissuedRecently(
            f"The consent link was issued at {intro.consent_requested_at.isoformat()}; "
            f"it can be reissued once a day, from {allowed_at.isoformat()}.",
            headers={"Retry-After": str(max(wait, 1))},
            retry_after=allowed_at.isoformat(),
        )


async def _refuse_over_cap(session: AsyncSession, intro: Introduction, rules: SettingsRead) -> None:
    # Lock the target's row so that two requests cannot both slip under the cap.
    await contacts.get_contact(
        session, owner_id=intro.owner_id, contact_id=intro.target_id, for_update=True
    )
    await expire_due(session, owner_id=intro.owner_id)
    pending = (
        await session.exec(
            select(func.count()).where(
                Introduction.owner_id == intro.owner_id,
                Introduction.target_id == intro.target_id,
                Introduction.state == State.awaiting_consent.value,
            )
        )
    ).one()
    if pending >= rules.max_pending_consents_per_target:
        raise TooManyPendingConsents(
            f"The target already has {pending} pending consent requests (the limit is "
            f"{rules.max_pending_consents_per_target}); wait for their answers.",
        )


async def record_decision(
    session: AsyncSession,
    *,
    intro: Introduction,
    accept: bool,
    via: str,
    evidence: str | None = None,
    message: str | None = None,
) -> None:
    action = Action.accept if accept else Action.decline
    workflow.next_state(State(intro.state), action)
    intro.decided_via = via
    intro.decided_at = utcnow()
    intro.evidence = evidence
    intro.target_message = message
    # The token's hash stays, so that a second use of the link is told it was used (410);
    # the state machine is what makes it single-use.
    await transition(
        session,
        intro,
        action,
        actor="owner" if via == "owner" else "target",
        note=evidence or message,
        data={"via": via},
    )


async def find_by_token(
    session: AsyncSession, token: str, *, for_update: bool = False
) -> Introduction | None:
    if len(token) not in TOKEN_LENGTHS:
        return None
    digest = hash_token(token)
    query = select(Introduction).where(Introduction.consent_token_hash == digest)
    if for_update:
        query = query.with_for_update()
    intro = (await session.exec(query)).first()
    # The lookup matched the hash already; compare again in constant time regardless.
    if intro is None or not hmac.compare_digest(intro.consent_token_hash or "", digest):
        return None
    return intro
