from typing import Annotated

from fastapi import Path, Query, Request, Response, status

from app.core.etag import check_if_match
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.reads import request_reader
from app.core.responses import ORJSONResponse
from app.core.types import utcnow
from app.core.unit_of_work import SessionDep, SessionOnDemand, api_router, writes
from app.introductions import consent, listing, service
from app.introductions.models import Introduction
from app.introductions.schemas import (
    ConsentRecord,
    ConsentRequestCreate,
    FeedbackCreate,
    IntroductionCreate,
    IntroductionRead,
    IntroductionUpdate,
    MakeCreate,
    TimelineEventRead,
    WithdrawCreate,
)
from app.introductions.workflow import State
from app.settings.schemas import SettingsRead
from app.settings.service import get_rules

router = api_router(prefix="/v1/introductions", tags=["introductions"])

IntroductionId = Annotated[str, Path()]


async def _answer(
    session: SessionDep,
    intro: Introduction,
    consent_url: str | None = None,
    status_code: int = 200,
    rules: SettingsRead | None = None,
    **headers: str,
) -> Response:
    """The introduction's document, as every answer about one sends it, with its ETag."""
    rules = rules or await get_rules(session, owner_id=intro.owner_id)
    document = service.introduction_document(
        intro, rules.follow_up_after_days, utcnow(), consent_url
    )
    headers["ETag"] = service.introduction_etag(intro.version, document)
    return ORJSONResponse(document, status_code=status_code, headers=headers)


async def _locked(session: SessionDep, principal: WritePrincipal, introduction_id: str):
    return await service.get_introduction(
        session, owner_id=principal.owner_id, introduction_id=introduction_id, for_update=True
    )


def consent_url(request: Request, token: str) -> str:
    base = request.app.state.settings.public_base_url or str(request.base_url)
    return f"{base.rstrip('/')}/consent/{token}"


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IntroductionRead)
async def create_introduction(
    body: IntroductionCreate, principal: WritePrincipal, session: SessionDep
) -> Response:
    """Record that a requester wants to meet a target (state `requested`)."""
    intro = await service.create_introduction(session, owner_id=principal.owner_id, data=body)
    location = f"/v1/introductions/{intro.id}"
    return await _answer(session, intro, status_code=status.HTTP_201_CREATED, Location=location)


@router.get("", response_model=Page[IntroductionRead])
@writes  # lets overdue consent links expire as it reads them
async def list_introductions(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionOnDemand,
    limit: Limit = 50,
    cursor: Cursor = None,
    state: State | None = None,
    contact_id: Annotated[
        str | None, Query(max_length=200, description="As requester or as target.")
    ] = None,
    needs_follow_up: Annotated[
        bool | None,
        Query(description="Made, and a side has given no feedback after the owner's delay."),
    ] = None,
) -> Response:
    """Introductions, newest first."""
    filters = listing.IntroductionFilters(
        state=state, contact_id=contact_id, needs_follow_up=needs_follow_up
    )
    documents, next_cursor = await listing.list_introductions(
        request_reader(request),
        session,
        owner_id=principal.owner_id,
        filters=filters,
        limit=limit,
        cursor=cursor,
    )
    return ORJSONResponse({"data": documents, "next_cursor": next_cursor})


@router.get("/{introduction_id}", response_model=IntroductionRead)
@writes  # lets overdue consent links expire as it reads them
async def read_introduction(
    introduction_id: IntroductionId,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> Response:
    """One introduction."""
    intro = await service.get_introduction(
        session, owner_id=principal.owner_id, introduction_id=introduction_id
    )
    return await _answer(session, intro)


@router.patch("/{introduction_id}", response_model=IntroductionRead)
async def update_introduction(
    introduction_id: IntroductionId,
    body: IntroductionUpdate,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
) -> Response:
    """Edit reason, benefit or offer while `requested`; honours If-Match."""
    intro = await _locked(session, principal, introduction_id)
    rules = await get_rules(session, owner_id=principal.owner_id)
    current = service.introduction_document(intro, rules.follow_up_after_days, utcnow())
    check_if_match(request, service.introduction_etag(intro.version, current))
    await service.update_introduction(session, intro=intro, changes=body)
    return await _answer(session, intro, rules=rules)


@router.get("/{introduction_id}/events", response_model=Page[TimelineEventRead])
@writes  # lets overdue consent links expire as it reads them
async def list_timeline(
    introduction_id: IntroductionId,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[TimelineEventRead]:
    """The timeline: who did what when, oldest first."""
    intro = await service.get_introduction(
        session, owner_id=principal.owner_id, introduction_id=introduction_id
    )
    data, next_cursor = await listing.list_timeline(
        session, intro=intro, limit=limit, cursor=cursor
    )
    return Page(data=data, next_cursor=next_cursor)


@router.post("/{introduction_id}/consent-request", response_model=IntroductionRead)
async def request_consent(
    introduction_id: IntroductionId,
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    body: ConsentRequestCreate | None = None,
) -> Response:
    """Ask the target: answers `consent_url`, a single-use link to send them yourself. Sent
    again while `awaiting_consent`, reissues it (at most once a day): the old link stops
    working and the expiry starts again."""
    intro = await _locked(session, principal, introduction_id)
    rules = await get_rules(session, owner_id=principal.owner_id)
    token = await consent.request_consent(session, intro=intro, rules=rules)
    return await _answer(session, intro, consent_url(request, token))


@router.post("/{introduction_id}/consent", response_model=IntroductionRead)
async def record_consent(
    introduction_id: IntroductionId,
    body: ConsentRecord,
    principal: WritePrincipal,
    session: SessionDep,
) -> Response:
    """Record the target's answer given to you directly (say, by phone), with evidence."""
    intro = await _locked(session, principal, introduction_id)
    await consent.record_decision(
        session,
        intro=intro,
        accept=body.decision == "accept",
        via="owner",
        evidence=body.evidence,
    )
    return await _answer(session, intro)


@router.post("/{introduction_id}/make", response_model=IntroductionRead)
async def make_introduction(
    introduction_id: IntroductionId,
    principal: WritePrincipal,
    session: SessionDep,
    body: MakeCreate | None = None,
) -> Response:
    """Make the introduction; only once the target consented. Writes a deposit for the
    requester."""
    body = body or MakeCreate()
    intro = await _locked(session, principal, introduction_id)
    await service.make_introduction(session, intro=intro, note=body.note, weight=body.weight)
    return await _answer(session, intro)


@router.post("/{introduction_id}/feedback", response_model=IntroductionRead)
async def record_feedback(
    introduction_id: IntroductionId,
    body: FeedbackCreate,
    principal: WritePrincipal,
    session: SessionDep,
) -> Response:
    """Record how it went, from either side; the first feedback completes it."""
    intro = await _locked(session, principal, introduction_id)
    await service.record_feedback(
        session, intro=intro, side=body.from_, outcome=body.outcome, note=body.note
    )
    return await _answer(session, intro)


@router.post("/{introduction_id}/withdraw", response_model=IntroductionRead)
async def withdraw(
    introduction_id: IntroductionId,
    principal: WritePrincipal,
    session: SessionDep,
    body: WithdrawCreate | None = None,
) -> Response:
    """Withdraw an introduction that is not made yet; a consent link stops working."""
    intro = await _locked(session, principal, introduction_id)
    await service.withdraw(session, intro=intro, reason=body.reason if body else None)
    return await _answer(session, intro)
