"""The consent page over HTTP (the browser test drives the same page in Chromium)."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.core.unit_of_work import commit
from app.introductions.consent_page import CSRF_COOKIE
from app.introductions.models import Introduction
from tests.factories import create_introduction, create_pair


async def consent_link(client, owner, **overrides):
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"], **overrides)
    asked = await client.post(
        f"/v1/introductions/{intro['id']}/consent-request", json={}, headers=owner.headers
    )
    url = asked.json()["consent_url"]
    return intro["id"], url.removeprefix("http://test")


async def state_of(client, owner, intro_id):
    return (await client.get(f"/v1/introductions/{intro_id}", headers=owner.headers)).json()


def hidden_csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the form carries a CSRF field"
    return match.group(1)


async def test_opening_the_page_shows_the_request_and_changes_nothing(client, owner):
    intro_id, path = await consent_link(client, owner)
    before = await state_of(client, owner, intro_id)
    for _ in range(3):  # a mail scanner, a link preview, the person
        page = await client.get(path)
        assert page.status_code == 200
    assert await state_of(client, owner, intro_id) == before
    html = page.text
    assert "Rita Requester" in html and "raising a seed round" in html
    assert "early look at a strong team" in html and "market research" in html
    assert "Owner" in html  # the introducer, by name
    # Nothing else of the owner's data: no contact notes or emails, not the owner's email.
    for private in ("Difference Engine", "@example.com", owner.email):
        assert private not in html, private
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert '<label class="choice" for="accept">' in html and 'id="accept"' in html
    assert '<label for="message">' in html


async def test_accepting_through_the_page(client, owner):
    intro_id, path = await consent_link(client, owner)
    page = await client.get(path)
    answer = await client.post(
        path,
        data={"decision": "accept", "csrf": hidden_csrf(page.text), "message": "Happy to chat"},
    )
    assert answer.status_code == 200
    assert "Thank you" in answer.text
    intro = await state_of(client, owner, intro_id)
    assert intro["state"] == "consented"
    assert intro["decided_via"] == "link" and intro["target_message"] == "Happy to chat"
    timeline = (
        await client.get(f"/v1/introductions/{intro_id}/events", headers=owner.headers)
    ).json()["data"]
    assert timeline[-1]["actor"] == "target"
    used = await client.get(path)
    assert used.status_code == 410 and "already used" in used.text
    replay = await client.post(path, data={"decision": "decline", "csrf": hidden_csrf(page.text)})
    assert replay.status_code == 410
    assert (await state_of(client, owner, intro_id))["state"] == "consented"


async def test_declining_through_the_page(client, owner):
    intro_id, path = await consent_link(client, owner)
    page = await client.get(path)
    answer = await client.post(path, data={"decision": "decline", "csrf": hidden_csrf(page.text)})
    assert answer.status_code == 200 and "rather not" in answer.text
    assert (await state_of(client, owner, intro_id))["state"] == "declined"


async def test_a_forged_form_is_refused(client, owner):
    intro_id, path = await consent_link(client, owner)
    await client.get(path)
    forged = await client.post(path, data={"decision": "accept", "csrf": "guessed"})
    assert forged.status_code == 403
    client.cookies.clear()
    no_cookie = await client.post(path, data={"decision": "accept", "csrf": "x"})
    assert no_cookie.status_code == 403
    assert (await state_of(client, owner, intro_id))["state"] == "awaiting_consent"


async def test_a_form_without_a_choice_asks_again(client, owner):
    intro_id, path = await consent_link(client, owner)
    page = await client.get(path)
    answer = await client.post(path, data={"csrf": hidden_csrf(page.text), "message": "Hmm"})
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text and "Hmm" in answer.text
    assert (await state_of(client, owner, intro_id))["state"] == "awaiting_consent"


async def test_unknown_expired_and_withdrawn_links(client, owner, app):
    unknown = await client.get("/consent/" + "x" * 43)
    assert unknown.status_code == 404 and "not valid" in unknown.text
    assert "Traceback" not in unknown.text
    assert (await client.get("/consent/short")).status_code == 404

    intro_id, path = await consent_link(client, owner)
    await client.post(f"/v1/introductions/{intro_id}/withdraw", json={}, headers=owner.headers)
    withdrawn = await client.get(path)
    assert withdrawn.status_code == 410 and "withdrawn" in withdrawn.text

    other_id, other_path = await consent_link(client, owner, reason="Another reason")
    page = await client.get(other_path)
    async with app.state.sessionmaker() as session:
        await session.exec(
            update(Introduction)
            .where(Introduction.id == other_id)
            .values(consent_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await commit(session)
    expired = await client.get(other_path)
    assert expired.status_code == 410 and "expired" in expired.text
    late = await client.post(
        other_path, data={"decision": "accept", "csrf": hidden_csrf(page.text)}
    )
    assert late.status_code == 410
    assert (await state_of(client, owner, other_id))["state"] == "expired"


async def test_the_page_escapes_what_it_shows(client, owner):
    _, path = await consent_link(client, owner, reason="<script>alert(1)</script>")
    page = await client.get(path)
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


async def test_the_csrf_cookie_is_strict_and_http_only(client, owner):
    _, path = await consent_link(client, owner)
    page = await client.get(path)
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/consent/" in cookie


async def test_an_equal_cookie_and_field_the_server_never_rendered_are_refused(client, owner):
    intro_id, path = await consent_link(client, owner)
    client.cookies.clear()
    made_up = "A" * 32
    forged = await client.post(
        path,
        data={"decision": "accept", "csrf": made_up},
        headers={"Cookie": f"{CSRF_COOKIE}={made_up}"},
    )
    assert forged.status_code == 403
    assert (await state_of(client, owner, intro_id))["state"] == "awaiting_consent"


async def test_a_form_rendered_for_another_link_cannot_answer_this_one(client, owner):
    intro_id, path = await consent_link(client, owner)
    _, other_path = await consent_link(client, owner, reason="Another reason")
    other_page = await client.get(other_path)
    csrf = hidden_csrf(other_page.text)
    client.cookies.clear()
    answer = await client.post(
        path,
        data={"decision": "accept", "csrf": csrf},
        headers={"Cookie": f"{CSRF_COOKIE}={csrf}"},
    )
    assert answer.status_code == 403
    assert (await state_of(client, owner, intro_id))["state"] == "awaiting_consent"


async def test_two_links_open_in_one_browser_can_both_be_answered(client, owner):
    first_id, first = await consent_link(client, owner)
    second_id, second = await consent_link(client, owner, reason="Another reason")
    first_page, second_page = await client.get(first), await client.get(second)
    for path, page in ((first, first_page), (second, second_page)):
        answer = await client.post(
            path, data={"decision": "accept", "csrf": hidden_csrf(page.text)}
        )
        assert answer.status_code == 200, answer.text
    for intro_id in (first_id, second_id):
        assert (await state_of(client, owner, intro_id))["state"] == "consented"


async def test_a_form_field_outside_ascii_is_refused_not_an_error(client, owner):
    _, path = await consent_link(client, owner)
    await client.get(path)
    answer = await client.post(path, data={"decision": "accept", "csrf": "Jürgen\u2028"})
    assert answer.status_code == 403
