"""Introductions: requests, consent, making them, feedback. Every transition asks
`workflow`, locks the row, and leaves an immutable timeline event and a change-feed event."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts import service as contacts
from app.core.errors import Conflict, ContactArchived, NotFound
from app.core.etag import make_etag
from app.core.outbox import record_event
from app.core.repository import get_owned_or_404
from app.core.types import new_id, utcnow
from app.introductions import workflow
from app.introductions.models import Introduction, IntroductionEvent
from app.introductions.schemas import (
    IntroductionCreate,
    IntroductionFlag,
    IntroductionUpdate,
    Outcome,
    Side,
)
from app.introductions.workflow import Action, State
from app.ledger import service as ledger
from app.relationships import service as relationships
from app.settings.schemas import SettingsRead
from app.settings.service import get_rules

# Deposit written for the target when they report the introduction as valuable.
VALUABLE_WEIGHT = 3


class IntroductionNotFound(NotFound):
    type, title = "introduction-not-found", "Introduction not found"


class SameRequesterAndTarget(Conflict):
    type, title = "same-requester-and-target", "Requester and target are the same"


class PairAlreadyOpen(Conflict):
    type, title = "introduction-already-open", "An introduction is already open for this pair"


class DeclineCooldown(Conflict):
    type, title = "decline-cooldown", "The target declined recently"


class FeedbackAlreadyGiven(Conflict):
    type, title = "feedback-already-given", "Feedback already recorded"


def introduction_etag(version: int, document: Mapping[str, Any]) -> str:
    """The ETag of an introduction's `document` at `version`: every transition and edit moves
    the version, but `needs_follow_up` turns true with time alone (and the owner's delay), so
    it is in the ETag too and a 304 never hides it."""
    return make_etag(f"{version}.follow-up" if document["needs_follow_up"] else version)


# The columns an introduction's document is made of, for reads that only present them
# (the list): plain rows, without the consent token's hash.
_ROW_FIELDS = [
    name
    for name in Introduction.__table__.c.keys()  # type: ignore[attr-defined]
    if name not in ("owner_id", "consent_token_hash")
]
DOCUMENT_COLUMNS = tuple(Introduction.__table__.c[name] for name in _ROW_FIELDS)  # type: ignore[attr-defined]


# Feedback is asked of both sides once an introduction is made; `completed` (one side
# answered) still waits for the other.
FOLLOWED_UP = (State.made.value, State.completed.value)
_MET = frozenset({Outcome.connected.value, Outcome.valuable.value})


def follow_up_due_from(
    state: str,
    made_at: datetime | None,
    outcomes: Mapping[Side, str | None],
    follow_up_after_days: int,
    now: datetime,
) -> list[str]:
    """The sides still to answer once `follow_up_after_days` have passed since `made_at`:
    one side's "connected" does not hide the other's silence (or its "never contacted me")."""
    if state not in FOLLOWED_UP or made_at is None:
        return []
    if made_at >= now - timedelta(days=follow_up_after_days):
        return []
    return [side.value for side in Side if outcomes[side] is None]


def introduction_flags(requester_outcome: str | None, target_outcome: str | None) -> list[str]:
    """`outcomes_disagree`: one side met (`connected`, `valuable`), the other says
    `not_contacted`."""
    pair = {requester_outcome, target_outcome}
    if Outcome.not_contacted.value in pair and pair & _MET:
        return [IntroductionFlag.outcomes_disagree.value]
    return []


def introduction_document(
    source: Introduction | Mapping[str, Any],
    follow_up_after_days: int,
    now: datetime,
    consent_url: str | None = None,
) -> dict[str, Any]:
    """An introduction as clients see it, from an entity or a row of `DOCUMENT_COLUMNS`: the
    one presenter of an introduction, for every answer (the list, GET, every transition) and
    the export. IntroductionRead's fields, in its order, as plain values for orjson
    (`ORJSONResponse`): building and validating the models was most of a page's CPU, as it
    was for contacts
    (docs/decisions/2026-12-07-interactions-and-introductions-on-the-hot-paths.md).
    tests/introductions/test_documents.py checks the bytes are IntroductionRead's own."""
    if type(source) is Introduction:
        source = {name: getattr(source, name) for name in _ROW_FIELDS}
    state, made_at = source["state"], source["made_at"]
    requester_outcome, target_outcome = source["requester_outcome"], source["target_outcome"]
    due_from = follow_up_due_from(
        state,
        made_at,
        {Side.requester: requester_outcome, Side.target: target_outcome},
        follow_up_after_days,
        now,
    )
    return {
        "id": source["id"],
        "requester_id": source["requester_id"],
        "target_id": source["target_id"],
        "state": state,
        "reason": source["reason"],
        "benefit_to_target": source["benefit_to_target"],
        "offer": source["offer"],
        "consent_url": consent_url,
        "consent_requested_at": source["consent_requested_at"],
        "consent_expires_at": source["consent_expires_at"],
        "decided_via": source["decided_via"],
        "decided_at": source["decided_at"],
        "evidence": source["evidence"],
        "target_message": source["target_message"],
        "made_at": made_at,
        "feedback": {
            Side.requester.value: requester_outcome,
            Side.target.value: target_outcome,
        },
        "feedback_at": {
            Side.requester.value: source["requester_feedback_at"],
            Side.target.value: source["target_feedback_at"],
        },
        # Made, and a side still silent after the owner's delay (listing.py filters alike).
        "needs_follow_up": bool(due_from),
        "follow_up_due_from": due_from,
        "flags": introduction_flags(requester_outcome, target_outcome),
        "ended_at": source["ended_at"],
        "created_at": source["created_at"],
        "updated_at": source["updated_at"],
    }


def _event_payload(intro: Introduction) -> dict[str, Any]:
    """Change-feed payload: ids and state only. The texts are about two people; clients
    read them from the API, and erasure then has nothing to chase through the feed."""
    return {
        "id": intro.id,
        "requester_id": intro.requester_id,
        "target_id": intro.target_id,
        "state": intro.state,
    }


async def transition(
    session: AsyncSession,
    intro: Introduction,
    action: Action,
    *,
    actor: str,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    event_type: str | None = None,
    feed_data: dict[str, Any] | None = None,
) -> State:
    """Move a locked introduction along the machine and record it; raise 409 if the machine
    does not allow it. `feed_data` adds to the change-feed event's payload."""
    before = State(intro.state)
    after = workflow.next_state(before, action)
    now = utcnow()
    intro.state = after.value
    intro.version += 1
    intro.updated_at = now
    if after in workflow.ENDED and intro.ended_at is None:
        intro.ended_at = now
    session.add(intro)
    session.add(
        IntroductionEvent(
            id=new_id("iev"),
            owner_id=intro.owner_id,
            introduction_id=intro.id,
            occurred_at=now,
            actor=actor,
            action=action.value,
            from_state=before.value,
            to_state=after.value,
            note=note,
            data=data or {},
        )
    )
    if after != before or event_type:
        record_event(
            session,
            owner_id=intro.owner_id,
            type=event_type or workflow.EVENT_TYPES[after],
            resource="introduction",
            resource_id=intro.id,
            data={**_event_payload(intro), **(feed_data or {})},
        )
    await session.flush()
    return after


async def get_introduction(
    session: AsyncSession, *, owner_id: str, introduction_id: str, for_update: bool = False
) -> Introduction:
    await expire_due(session, owner_id=owner_id, introduction_id=introduction_id)
    # for_update: transitions on one introduction serialise here, so two racing calls see
    # each other's outcome and the state machine refuses the loser.
    return await get_owned_or_404(
        session,
        Introduction,
        owner_id=owner_id,
        id=introduction_id,
        not_found=IntroductionNotFound(f"No introduction {introduction_id}."),
        for_update=for_update,
    )


async def create_introduction(
    session: AsyncSession, *, owner_id: str, data: IntroductionCreate
) -> Introduction:
    if data.requester_id == data.target_id:
        raise SameRequesterAndTarget("The requester and the target must be different people.")
    for contact_id in (data.requester_id, data.target_id):
        contact = await contacts.get_contact(session, owner_id=owner_id, contact_id=contact_id)
        if contact.archived_at is not None:
            raise ContactArchived(contact_id)
    rules = await get_rules(session, owner_id=owner_id)
    await _refuse_open_pair(session, owner_id, data.requester_id, data.target_id)
    await _refuse_during_cooldown(session, owner_id, data, rules)
    now = utcnow()
    intro = Introduction(
        id=new_id("intro"),
        owner_id=owner_id,
        requester_id=data.requester_id,
        target_id=data.target_id,
        state=State.requested.value,
        reason=data.reason,
        benefit_to_target=data.benefit_to_target,
        offer=data.offer,
        created_at=now,
        updated_at=now,
    )
    session.add(intro)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise PairAlreadyOpen(
            "Another introduction for this requester and target was created at the same time."
        ) from exc
    session.add(
        IntroductionEvent(
            id=new_id("iev"),
            owner_id=owner_id,
            introduction_id=intro.id,
            occurred_at=now,
            actor="owner",
            action="request",
            from_state=None,
            to_state=State.requested.value,
        )
    )
    record_event(
        session,
        owner_id=owner_id,
        type=workflow.EVENT_TYPES[State.requested],
        resource="introduction",
        resource_id=intro.id,
        data=_event_payload(intro),
    )
    await session.flush()
    return intro


async def _refuse_open_pair(
    session: AsyncSession, owner_id: str, requester_id: str, target_id: str
) -> None:
    existing = (
        await session.exec(
            select(Introduction.id, Introduction.state).where(
                Introduction.owner_id == owner_id,
                Introduction.requester_id == requester_id,
                Introduction.target_id == target_id,
                col(Introduction.state).in_([s.value for s in workflow.OPEN]),
            )
        )
    ).first()
    if existing is not None:
        raise PairAlreadyOpen(
            f"Introduction {existing[0]} for this requester and target is still "
            f"`{existing[1]}`; finish or withdraw it first.",
            introduction_id=existing[0],
        )


async def _refuse_during_cooldown(
    session: AsyncSession, owner_id: str, data: IntroductionCreate, rules: SettingsRead
) -> None:
    since = utcnow() - timedelta(days=rules.decline_cooldown_days)
    declined_at = (
        await session.exec(
            select(func.max(Introduction.decided_at)).where(
                Introduction.owner_id == owner_id,
                Introduction.requester_id == data.requester_id,
                Introduction.target_id == data.target_id,
                Introduction.state == State.declined.value,
                col(Introduction.decided_at) > since,
            )
        )
    ).first()
    if declined_at is not None:
        until = declined_at + timedelta(days=rules.decline_cooldown_days)
        raise DeclineCooldown(
            f"The target declined this introduction on {declined_at.date().isoformat()}; "
            f"do not ask again before {until.date().isoformat()}.",
            retry_after=until.isoformat(),
        )


async def update_introduction(
    session: AsyncSession, *, intro: Introduction, changes: IntroductionUpdate
) -> Introduction:
    for name in changes.model_fields_set:
        setattr(intro, name, getattr(changes, name))
    await transition(
        session,
        intro,
        Action.edit,
        actor="owner",
        data={"fields": sorted(changes.model_fields_set)},
        event_type="introduction.updated",
    )
    return intro


async def make_introduction(
    session: AsyncSession, *, intro: Introduction, note: str | None, weight: int
) -> None:
    workflow.next_state(State(intro.state), Action.make)
    intro.made_at = utcnow()
    await transition(session, intro, Action.make, actor="owner", note=note)
    await ledger.record_deposit(
        session,
        owner_id=intro.owner_id,
        contact_id=intro.requester_id,
        kind="introduction",
        weight=weight,
        note=note,
        introduction_id=intro.id,
    )
    # The two know each other now: an `introduced` edge, for warm paths (relationship.created).
    await relationships.add_introduced(
        session,
        owner_id=intro.owner_id,
        requester_id=intro.requester_id,
        target_id=intro.target_id,
        introduction_id=intro.id,
    )


async def record_feedback(
    session: AsyncSession, *, intro: Introduction, side: Side, outcome: Outcome, note: str | None
) -> None:
    workflow.next_state(State(intro.state), Action.feedback)
    given = intro.requester_outcome if side == Side.requester else intro.target_outcome
    if given is not None:
        raise FeedbackAlreadyGiven(f"The {side.value} already gave feedback ({given}).")
    now = utcnow()
    if side == Side.requester:
        intro.requester_outcome, intro.requester_feedback_at = outcome.value, now
    else:
        intro.target_outcome, intro.target_feedback_at = outcome.value, now
    # The first feedback completes the introduction (introduction.completed); every
    # feedback is also introduction.feedback_received.
    await transition(
        session,
        intro,
        Action.feedback,
        actor="owner",
        note=note,
        data={"from": side.value, "outcome": outcome.value},
    )
    record_event(
        session,
        owner_id=intro.owner_id,
        type="introduction.feedback_received",
        resource="introduction",
        resource_id=intro.id,
        data={**_event_payload(intro), "from": side.value, "outcome": outcome.value},
    )
    if side == Side.target and outcome == Outcome.valuable:
        await ledger.record_deposit(
            session,
            owner_id=intro.owner_id,
            contact_id=intro.target_id,
            kind="introduction",
            weight=VALUABLE_WEIGHT,
            note=note,
            introduction_id=intro.id,
        )


async def withdraw(session: AsyncSession, *, intro: Introduction, reason: str | None) -> None:
    await transition(session, intro, Action.withdraw, actor="owner", note=reason)


async def expire_due(
    session: AsyncSession, *, owner_id: str | None = None, introduction_id: str | None = None
) -> int:
    """Expire pending consent requests past their date. Called on every read and write that
    could see them, and by a periodic sweep, so no client ever sees a stale `awaiting_consent`."""
    conditions = [
        Introduction.state == State.awaiting_consent.value,
        col(Introduction.consent_expires_at) < utcnow(),
    ]
    if owner_id is not None:
        conditions.append(Introduction.owner_id == owner_id)
    if introduction_id is not None:
        conditions.append(Introduction.id == introduction_id)
    # A plain read first: on SQLite a write statement would take the write lock even when
    # nothing is due.
    due = (
        await session.exec(
            select(Introduction.owner_id, Introduction.id).where(*conditions).limit(500)
        )
    ).all()
    for due_owner, due_id in due:
        intro = (
            await session.exec(
                select(Introduction)
                .where(Introduction.owner_id == due_owner, Introduction.id == due_id, *conditions)
                .with_for_update()
            )
        ).first()
        if intro is not None:
            await transition(session, intro, Action.expire, actor="system")
    return len(due)
