"""The consent page in a real browser: headless Chromium against `goodwill serve`.

The target opens the link they were sent, reads who wants to meet them and why, and answers
with the form; the owner then reads the outcome through the API. Needs Debian's `chromium`
(installed by `.ci/run`); driven by Playwright with that binary, never a downloaded one.
"""

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from app.core.migrations import upgrade
from tests.servers import create_owner, free_port, serving

# Debian's chromium; GOODWILL_TEST_CHROMIUM names another Chromium binary.
CHROMIUM = (
    os.environ.get("GOODWILL_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
INTRODUCER = "Irene Introducer"
REQUESTER = {
    "display_name": "Grace Hopper",
    "title": "Rear Admiral",
    "organization": "US Navy",
    "notes": "REQUESTER-PRIVATE-NOTE owes me a favour",
    "channels": [{"type": "email", "value": "grace.private@example.com"}],
}
TARGET = {
    "display_name": "Alan Turing",
    "notes": "TARGET-PRIVATE-NOTE prefers tea",
    "channels": [{"type": "email", "value": "alan.private@example.com"}],
}
BYSTANDER = {"display_name": "Bystander Babbage", "notes": "BYSTANDER-PRIVATE-NOTE"}
INTRODUCTION = {
    "reason": "Grace is building a compiler and wants advice on computability.",
    "benefit_to_target": "A first look at a working compiler for your machine design.",
    "offer": "Time on the Harvard Mark I and an introduction to the Navy team.",
}
ACCEPT = "Yes, please introduce us"
DECLINE = "No, thank you"

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)",
)


@dataclass
class Service:
    base: str
    api: httpx.Client

    def contact(self, body: dict) -> dict:
        answer = self.api.post("/v1/contacts", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def introduction(self, requester: dict, target: dict, **texts: str) -> dict:
        """An introduction awaiting the target's consent, with its `consent_url`."""
        ids = {"requester_id": requester["id"], "target_id": target["id"]}
        body = {**ids, **INTRODUCTION, **texts}
        created = self.api.post("/v1/introductions", json=body)
        assert created.status_code == 201, created.text
        asked = self.api.post(f"/v1/introductions/{created.json()['id']}/consent-request", json={})
        assert asked.status_code == 200, asked.text
        return asked.json()

    def read(self, introduction_id: str) -> httpx.Response:
        answer = self.api.get(f"/v1/introductions/{introduction_id}")
        assert answer.status_code == 200, answer.text
        return answer

    def timeline(self, introduction_id: str) -> list[str]:
        answer = self.api.get(f"/v1/introductions/{introduction_id}/events")
        assert answer.status_code == 200, answer.text
        return [event["action"] for event in answer.json()["data"]]


@pytest.fixture(scope="module")
def service(fresh_database_url, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    url = fresh_database_url("browser")
    upgrade(url)
    owner = create_owner(url, "irene@example.com", name=INTRODUCER)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("browser-server")
    with (
        serving(url, logs, ports=[port], env={"GOODWILL_PUBLIC_BASE_URL": base}),
        httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {owner['api_key']}"},
            timeout=10,
        ) as api,
    ):
        yield Service(base, api)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # launch() gives the browser a fresh, temporary user-data-dir of its own.
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
    )
    yield browser
    browser.close()


@pytest.fixture
def problems() -> list[str]:
    """Console errors and warnings (a CSP refusal is one) and uncaught page errors."""
    return []


@pytest.fixture
def page(browser: Browser, problems: list[str]) -> Iterator[Page]:
    """A fresh context (no cookies) per test."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()


def _people(service: Service) -> tuple[dict, dict]:
    """A new requester and target (one open introduction per pair), and a bystander."""
    suffix = secrets.token_hex(2)

    def own_email(name: str) -> list[dict]:
        # A second contact with an email another has is refused (409): one each.
        return [{"type": "email", "value": f"{name}.{suffix}.private@example.com"}]

    requester = service.contact(
        {
            **REQUESTER,
            "display_name": f"Grace Hopper {suffix}",
            "channels": own_email("grace"),
        }
    )
    target = service.contact({**TARGET, "channels": own_email("alan")})
    service.contact(BYSTANDER)
    return requester, target


def _open(page: Page, url: str, status: int) -> None:
    response = page.goto(url)
    assert response is not None
    assert response.status == status, page.content()[:2000]
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in response.headers["cache-control"]
    text = page.content()
    assert "Traceback" not in text
    assert "Internal Server Error" not in text


def _answer(page: Page, choice: str, message: str | None) -> None:
    page.locator("label", has_text=choice).click()
    expect(page.get_by_label(choice)).to_be_checked()
    if message is not None:
        page.get_by_label(f"Message to {INTRODUCER}").fill(message)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Send my answer").click()
    response = navigation.value
    assert response is not None and response.status == 200, page.content()[:2000]
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")


def test_the_target_accepts_through_the_link(service: Service, page: Page, problems: list[str]):
    requester, target = _people(service)
    intro = service.introduction(requester, target)
    assert intro["consent_url"].startswith(f"{service.base}/consent/")

    _open(page, intro["consent_url"], 200)
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(f"Would you like to meet {requester['display_name']}?")
    body = page.locator("body").inner_text()
    for shown in (
        requester["display_name"],
        "Rear Admiral",
        "US Navy",
        INTRODUCTION["reason"],
        INTRODUCTION["benefit_to_target"],
        INTRODUCTION["offer"],
        INTRODUCER,
    ):
        assert shown in body
    html = page.content()
    for hidden in (
        "PRIVATE-NOTE",
        "private@example.com",
        BYSTANDER["display_name"],
        target["id"],
        requester["id"],
        intro["id"],
    ):
        assert hidden not in html
    # The styles run under the CSP nonce, and nothing on the page was refused.
    button = page.get_by_role("button", name="Send my answer")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(31, 111, 235)"
    assert problems == []
    # Every control has a label the browser associates with it.
    expect(page.get_by_label(ACCEPT)).to_have_attribute("type", "radio")
    expect(page.get_by_label(DECLINE)).to_have_attribute("type", "radio")
    expect(page.get_by_label(f"Message to {INTRODUCER}")).to_be_editable()

    message = "Happy to talk — Tuesdays work best for me."
    _answer(page, ACCEPT, message)
    expect(page.locator("main")).to_contain_text(f"{INTRODUCER} now knows you would like")

    read = service.read(intro["id"]).json()
    assert read["state"] == "consented"
    assert read["decided_via"] == "link"
    assert read["target_message"] == message
    assert read["consent_url"] is None
    assert service.timeline(intro["id"]) == ["request", "request_consent", "accept"]

    # Single use: the link now says so, with 410, and nothing changes.
    _open(page, intro["consent_url"], 410)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link was already used")
    expect(page.locator("form")).to_have_count(0)
    assert service.read(intro["id"]).json()["state"] == "consented"


def test_the_target_declines_through_the_link(service: Service, page: Page):
    requester, target = _people(service)
    intro = service.introduction(requester, target)

    _open(page, intro["consent_url"], 200)
    _answer(page, DECLINE, None)
    expect(page.locator("main")).to_contain_text(f"{INTRODUCER} now knows you would rather not")

    read = service.read(intro["id"]).json()
    assert read["state"] == "declined"
    assert read["decided_via"] == "link"
    assert read["target_message"] is None
    assert service.timeline(intro["id"]) == ["request", "request_consent", "decline"]


def test_opening_the_link_changes_nothing(service: Service, page: Page):
    """Mail scanners and link previews follow links: only the form POST decides."""
    requester, target = _people(service)
    intro = service.introduction(requester, target)
    before = service.read(intro["id"])

    for _ in range(2):
        _open(page, intro["consent_url"], 200)
        expect(page.get_by_label(ACCEPT)).not_to_be_checked()

    after = service.read(intro["id"])
    assert after.json()["state"] == "awaiting_consent"
    assert after.headers["ETag"] == before.headers["ETag"]
    assert after.json()["updated_at"] == before.json()["updated_at"]
    assert service.timeline(intro["id"]) == ["request", "request_consent"]


@pytest.mark.parametrize(
    "token", [secrets.token_urlsafe(32), "nope", "x" * 300], ids=["random", "short", "long"]
)
def test_an_unknown_link_shows_a_clear_404_page(service: Service, page: Page, token: str):
    _open(page, f"{service.base}/consent/{token}", 404)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    expect(page.locator("main")).to_contain_text("copied the whole link")
    expect(page.locator("form")).to_have_count(0)


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@contextmanager
def _layout(browser: Browser, url: str, viewport: dict, screenshot: Path) -> Iterator[Page]:
    """Open `url` at `viewport` (as a phone when narrow), save a full-page screenshot, and
    check the page is no wider than the screen."""
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        response = page.goto(url)
        assert response is not None and response.status == 200
        page.screenshot(path=screenshot, full_page=True)
        assert screenshot.stat().st_size > 0
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        # A phone widens its layout viewport to fit content that overflows (and shrinks the
        # text to match), so the window must also still be as wide as the screen.
        assert scroll_width <= inner_width == viewport["width"], (
            f"horizontal overflow: content {scroll_width} px, window {inner_width} px, "
            f"screen {viewport['width']} px; see {screenshot}"
        )
        yield page
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_page_fits_the_screen(
    service: Service, browser: Browser, tmp_path: Path, viewport: dict
):
    requester, target = _people(service)
    intro = service.introduction(requester, target)
    name = "phone" if viewport is PHONE else "desktop"
    screenshot = tmp_path / f"consent-{name}.png"
    with _layout(browser, intro["consent_url"], viewport, screenshot) as page:
        # The choices are comfortable touch targets (at least 44 px tall), on the screen.
        for choice in (ACCEPT, DECLINE):
            box = page.locator("label", has_text=choice).bounding_box()
            assert box is not None and box["height"] >= 44
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]


def test_long_words_wrap_on_a_phone(service: Service, browser: Browser, tmp_path: Path):
    requester, target = _people(service)
    link = "https://docs.example.com/document/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit"
    intro = service.introduction(requester, target, reason=f"Grace would like to discuss {link}")
    with _layout(browser, intro["consent_url"], PHONE, tmp_path / "consent-long-word.png"):
        pass


def test_the_consent_link_is_absolute_and_points_at_this_server(service: Service):
    requester, target = _people(service)
    intro = service.introduction(requester, target)
    assert re.fullmatch(
        rf"{re.escape(service.base)}/consent/[A-Za-z0-9_.-]{{40,}}", intro["consent_url"]
    )
