"""The one page Goodwill serves to a browser: the target's consent page.

No API key: the unguessable single-use token in the link is the credential. Opening the
page changes nothing (mail scanners and link previews follow links); only the form POST
decides. It carries a CSRF token that the server signed for this very link when it rendered
the page, in a hidden field and in a cookie (SameSite=Strict, scoped to the link's path):
a form the server never rendered, or rendered for another link, cannot answer.
"""

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.auth.models import Owner
from app.contacts.models import Contact
from app.core import signing
from app.core.types import utcnow
from app.core.unit_of_work import SessionDep, api_router
from app.introductions import consent, service
from app.introductions.models import Introduction
from app.introductions.workflow import Action, State

router = api_router(include_in_schema=False)

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
CSRF_COOKIE = "goodwill_consent_csrf"
_CSRF_PURPOSE = "consent-form"
# As long as a rendered form may be answered; the link itself usually expires first.
_CSRF_MAX_AGE_SECONDS = 24 * 3600
_MESSAGE_LIMIT = 1_000


def _link_digest(token: str) -> str:
    # The form token names its link by digest, so the token itself appears nowhere else.
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _new_csrf(token: str) -> str:
    return signing.sign(_CSRF_PURPOSE, _link_digest(token), timed=True)


def _csrf_is_for(csrf: str, token: str) -> bool:
    """Whether the server signed `csrf` for this link, within the last day."""
    try:
        digest = signing.unsign(_CSRF_PURPOSE, csrf, max_age_seconds=_CSRF_MAX_AGE_SECONDS)
    except signing.Invalid:
        return False
    return isinstance(digest, str) and hmac.compare_digest(
        digest.encode(), _link_digest(token).encode()
    )


def _page(template: str, status: int, request: Request, **context: object) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _templates.get_template(template).render(nonce=nonce, **context)
    response = HTMLResponse(html, status_code=status)
    response.headers.update(
        {
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
            "X-Robots-Tag": "noindex, nofollow",
        }
    )
    return response


def _gone_or_missing(
    request: Request, token: str, intro: Introduction | None
) -> HTMLResponse | None:
    """The page for a link that cannot be answered any more, or None if it can."""
    if intro is None and consent.issued_here(token):
        # Ours, but no introduction holds it now: a reissue replaced it (or the
        # introduction was erased with its contact).
        return _page(
            "consent_error.html",
            410,
            request,
            heading="This link is no longer valid",
            text=(
                "It has been replaced by a newer link, or the request has ended. Use the link "
                "in the most recent message you received, or reply to the person who sent it."
            ),
        )
    if intro is None:
        return _page(
            "consent_error.html",
            404,
            request,
            heading="This link is not valid",
            text="Check that you copied the whole link from the message you received.",
        )
    state = State(intro.state)
    expired = intro.consent_expires_at is not None and intro.consent_expires_at < utcnow()
    if state == State.awaiting_consent and not expired:
        return None
    if state == State.expired or expired:
        text = (
            "This request has expired. If you would still like the introduction, reply to "
            "the person who sent you the link."
        )
        return _page("consent_error.html", 410, request, heading="This link has expired", text=text)
    if state == State.withdrawn:
        return _page(
            "consent_error.html",
            410,
            request,
            heading="This request was withdrawn",
            text="Nothing more is needed from you.",
        )
    return _page(
        "consent_error.html",
        410,
        request,
        heading="This link was already used",
        text="Your answer has been recorded. Thank you.",
    )


async def _who(session: SessionDep, intro: Introduction) -> dict[str, object]:
    """Only what the target needs to decide: nothing else of the owner's data."""
    requester = await session.get(Contact, (intro.owner_id, intro.requester_id))
    owner = await session.get(Owner, intro.owner_id)
    assert requester is not None and owner is not None  # held by foreign keys
    return {
        "requester_name": requester.display_name,
        "requester_title": requester.title,
        "requester_organization": requester.organization,
        "introducer": owner.name or owner.email,
        "reason": intro.reason,
        "benefit": intro.benefit_to_target,
        "offer": intro.offer,
        "expires_at": intro.consent_expires_at,
    }


@router.get("/consent/{token}", response_class=HTMLResponse)
async def show_consent(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    intro = await consent.find_by_token(session, token)
    if (refusal := _gone_or_missing(request, token, intro)) is not None:
        return refusal
    assert intro is not None
    # A second tab of the same link keeps the first tab's token, so either form can be sent.
    existing = request.cookies.get(CSRF_COOKIE, "")
    csrf = existing if _csrf_is_for(existing, token) else _new_csrf(token)
    response = _page("consent.html", 200, request, csrf=csrf, **await _who(session, intro))
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        path=request.url.path,  # this link only: other links open in the browser keep theirs
        secure=request.url.scheme == "https",
        max_age=_CSRF_MAX_AGE_SECONDS,
    )
    return response


@router.post("/consent/{token}", response_class=HTMLResponse)
async def answer_consent(
    token: str,
    request: Request,
    session: SessionDep,
    decision: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
) -> HTMLResponse:
    intro = await consent.find_by_token(session, token, for_update=True)
    if intro is not None and State(intro.state) == State.awaiting_consent:
        await service.expire_due(session, owner_id=intro.owner_id, introduction_id=intro.id)
    if (refusal := _gone_or_missing(request, token, intro)) is not None:
        return refusal
    assert intro is not None
    cookie = request.cookies.get(CSRF_COOKIE, "")
    # As bytes: compare_digest refuses str with characters outside ASCII.
    if not (hmac.compare_digest(csrf.encode(), cookie.encode()) and _csrf_is_for(csrf, token)):
        return _page(
            "consent_error.html",
            403,
            request,
            heading="Please try again",
            text="This form could not be verified. Open the link again and answer from that page.",
        )
    if (
        decision not in (Action.accept.value, Action.decline.value)
        or len(message) > _MESSAGE_LIMIT
        or "\x00" in message
    ):
        context = await _who(session, intro)
        return _page(
            "consent.html",
            422,
            request,
            csrf=csrf,
            message=message[:_MESSAGE_LIMIT],
            error="Choose whether you would like the introduction.",
            **context,
        )
    await consent.record_decision(
        session,
        intro=intro,
        accept=decision == Action.accept.value,
        via="link",
        message=message.strip() or None,
    )
    response = _page(
        "consent_done.html",
        200,
        request,
        accepted=decision == "accept",
        introducer=(await _who(session, intro))["introducer"],
    )
    response.delete_cookie(CSRF_COOKIE, path=request.url.path)
    return response
