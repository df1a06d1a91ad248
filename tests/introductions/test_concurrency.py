"""The consent gate holds between two server processes on one PostgreSQL database.

Two `goodwill serve` processes share the database, so only the database (the row lock every
transition takes, and the state machine read under it) can keep two racing calls from both
winning: the target's answer (recorded by the owner, or the target's own form) against
withdraw, and `make` against `make`. Every race leaves exactly what one serial order of the
two calls would (a refused call is told why, 409), never a mix of both, and a made
introduction has exactly one deposit.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from app.introductions.consent_page import CSRF_COOKIE
from tests.servers import Servers, owner_on_servers

pytestmark = pytest.mark.postgres

RACES = 20  # introductions raced through the API
PAGE_RACES = 8  # introductions whose target answers with the form while the owner withdraws
CONCURRENCY = 10  # races (and set-up calls) in flight at once
REQUEST_TIMEOUT = 15
TRANSITION_NOT_ALLOWED = "transition-not-allowed"
INTRODUCTION = {
    "reason": "Wants advice on raising a seed round.",
    "benefit_to_target": "Early look at a promising company.",
    "offer": "An hour of design review.",
}


@pytest.fixture(scope="module")
def two_servers(fresh_database_url, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:  # type: ignore[no-untyped-def]
    url = fresh_database_url("intro_race")
    log_dir = tmp_path_factory.mktemp("intro-race")
    with owner_on_servers(url, log_dir, "racer@example.com") as servers:
        yield servers


@pytest.fixture
async def api(two_servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=CONCURRENCY * 4)
    async with httpx.AsyncClient(
        headers=two_servers.headers, timeout=REQUEST_TIMEOUT, limits=limits
    ) as client:
        yield client


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def _contacts(api: httpx.AsyncClient, base: str, names: list[str]) -> list[str]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(name: str) -> str:
        async with gate:
            created = await api.post(f"{base}/v1/contacts", json={"display_name": name})
            return _ok(created, 201)["id"]

    return list(await asyncio.gather(*(one(name) for name in names)))


async def _introductions(
    api: httpx.AsyncClient, base: str, pairs: list[tuple[str, str]], then: str, body: dict
) -> list[dict]:
    """One introduction per (requester, target), taken on by POST `then` with `body`."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(requester_id: str, target_id: str) -> dict:
        async with gate:
            created = _ok(
                await api.post(
                    f"{base}/v1/introductions",
                    json={"requester_id": requester_id, "target_id": target_id, **INTRODUCTION},
                ),
                201,
            )
            taken = await api.post(f"{base}/v1/introductions/{created['id']}/{then}", json=body)
            return _ok(taken)

    return list(await asyncio.gather(*(one(r, t) for r, t in pairs)))


async def _state(api: httpx.AsyncClient, base: str, introduction_id: str) -> dict:
    return _ok(await api.get(f"{base}/v1/introductions/{introduction_id}"))


async def _timeline(api: httpx.AsyncClient, base: str, introduction_id: str) -> list[str]:
    page = _ok(await api.get(f"{base}/v1/introductions/{introduction_id}/events"))
    assert page["next_cursor"] is None
    return [event["action"] for event in page["data"]]


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(TRANSITION_NOT_ALLOWED), response.text


# What each serial order of (the target's answer, withdraw) leaves, from `awaiting_consent`:
# {decision: {winner-first: (answer status, withdraw status, final state, last actions)}}.
# Withdraw is allowed from `consented` too (only a made introduction cannot be withdrawn),
# so "yes, then withdrawn" is a legitimate history in which both calls succeed; a decline
# ends the introduction, so there exactly one of the two calls can win.
SERIAL_OUTCOMES = {
    "accept": {
        "answer first": (200, 200, "withdrawn", ["accept", "withdraw"]),
        "withdraw first": (409, 200, "withdrawn", ["withdraw"]),
    },
    "decline": {
        "answer first": (200, 409, "declined", ["decline"]),
        "withdraw first": (409, 200, "withdrawn", ["withdraw"]),
    },
}


async def _check_serial(
    api: httpx.AsyncClient,
    base: str,
    intro: dict,
    decision: str,
    answer: int,
    withdraw: httpx.Response,
) -> str:
    """The race left exactly what one of the two serial orders leaves; returns which."""
    read = await _state(api, base, intro["id"])
    timeline = await _timeline(api, base, intro["id"])
    seen = (answer, withdraw.status_code, read["state"], timeline[2:])
    orders = [o for o, outcome in SERIAL_OUTCOMES[decision].items() if outcome == seen]
    assert len(orders) == 1, f"{decision} vs withdraw left {seen}, no serial order does"
    assert timeline[:2] == ["request", "request_consent"]
    if withdraw.status_code == 409:
        _refused(withdraw)
    return orders[0]


async def test_the_answer_and_withdraw_racing_leave_one_serial_history(
    two_servers: Servers, api: httpx.AsyncClient
):
    a, b = two_servers.bases
    (requester,) = await _contacts(api, a, ["Requester"])
    # One target each: a target may have only a few pending consent requests at a time.
    targets = await _contacts(api, b, [f"Target {n}" for n in range(RACES + PAGE_RACES)])
    intros = await _introductions(api, a, [(requester, t) for t in targets], "consent-request", {})
    assert {i["state"] for i in intros} == {"awaiting_consent"}
    by_api, by_page = intros[:RACES], intros[RACES:]
    orders: dict[tuple[str, str], int] = {}

    # Through the API: the owner records the target's answer on one server while
    # withdrawing on the other. Accept and decline alternate in pairs, and the servers swap
    # roles every other introduction.
    gate = asyncio.Semaphore(CONCURRENCY)

    def plan(n: int) -> tuple[str, str, str]:
        decision = "accept" if n % 4 < 2 else "decline"
        return (decision, a, b) if n % 2 == 0 else (decision, b, a)

    async def race(n: int, intro: dict) -> tuple[httpx.Response, httpx.Response]:
        decision, answer_on, withdraw_on = plan(n)
        async with gate:
            answer, withdraw = await asyncio.gather(
                api.post(
                    f"{answer_on}/v1/introductions/{intro['id']}/consent",
                    json={"decision": decision, "evidence": "phone"},
                ),
                api.post(f"{withdraw_on}/v1/introductions/{intro['id']}/withdraw", json={}),
            )
        return answer, withdraw

    results = await asyncio.gather(*(race(n, intro) for n, intro in enumerate(by_api)))
    for n, (intro, (answer, withdraw)) in enumerate(zip(by_api, results, strict=True)):
        decision, _, reader = plan(n)
        order = await _check_serial(api, reader, intro, decision, answer.status_code, withdraw)
        orders[(decision, order)] = orders.get((decision, order), 0) + 1
        if answer.status_code == 409:
            _refused(answer)
        else:
            assert answer.json()["state"] == ("consented" if decision == "accept" else "declined")
        if withdraw.status_code == 200:
            assert withdraw.json()["state"] == "withdrawn"
        read = await _state(api, reader, intro["id"])
        if order == "answer first":
            assert (read["decided_via"], read["evidence"]) == ("owner", "phone")
        else:
            assert read["decided_via"] is None

    # Through the consent page: the target submits the form on one server while the owner
    # withdraws on the other. A refused form answers the "withdrawn" page (410).
    async def page_race(n: int, intro: dict) -> tuple[httpx.Response, httpx.Response]:
        decision, form_on, withdraw_on = plan(n)
        path = urlsplit(intro["consent_url"]).path
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as browser:
            opened = await browser.get(f"{form_on}{path}")
            assert opened.status_code == 200, opened.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', opened.text)
            assert csrf is not None
            cookie = opened.cookies[CSRF_COOKIE]
            async with gate:
                form, withdraw = await asyncio.gather(
                    browser.post(
                        f"{form_on}{path}",
                        data={"decision": decision, "csrf": csrf.group(1), "message": "Sure"},
                        headers={"Cookie": f"{CSRF_COOKIE}={cookie}"},
                    ),
                    api.post(f"{withdraw_on}/v1/introductions/{intro['id']}/withdraw", json={}),
                )
        return form, withdraw

    page_results = await asyncio.gather(*(page_race(n, i) for n, i in enumerate(by_page)))
    for n, (intro, (form, withdraw)) in enumerate(zip(by_page, page_results, strict=True)):
        decision, _, reader = plan(n)
        if form.status_code == 200:
            assert "Thank you" in form.text
            answer = 200
        else:
            assert form.status_code == 410, form.text
            assert "This request was withdrawn" in form.text
            answer = 409
        order = await _check_serial(api, reader, intro, decision, answer, withdraw)
        orders[(decision, f"form, {order}")] = orders.get((decision, f"form, {order}"), 0) + 1
        read = await _state(api, reader, intro["id"])
        if order == "answer first":
            assert (read["decided_via"], read["target_message"]) == ("link", "Sure")
        else:
            assert read["decided_via"] is None
    print("serial orders seen:", dict(sorted(orders.items())))


async def test_make_racing_make_makes_once_with_one_deposit(
    two_servers: Servers, api: httpx.AsyncClient
):
    a, b = two_servers.bases
    # A requester of its own per introduction, so its ledger holds this deposit alone.
    requesters = await _contacts(api, a, [f"Maker {n}" for n in range(RACES)])
    targets = await _contacts(api, b, [f"Made {n}" for n in range(RACES)])
    intros = await _introductions(
        api,
        b,
        list(zip(requesters, targets, strict=True)),
        "consent",
        {"decision": "accept", "evidence": "phone"},
    )
    assert {i["state"] for i in intros} == {"consented"}

    gate = asyncio.Semaphore(CONCURRENCY)

    async def race(intro: dict) -> list[httpx.Response]:
        async with gate:
            return list(
                await asyncio.gather(
                    *(
                        api.post(f"{base}/v1/introductions/{intro['id']}/make", json={})
                        for base in (a, b)
                    )
                )
            )

    results = await asyncio.gather(*(race(intro) for intro in intros))
    for n, (intro, pair) in enumerate(zip(intros, results, strict=True)):
        assert sorted(r.status_code for r in pair) == [200, 409], [r.text for r in pair]
        winner = next(r for r in pair if r.status_code == 200)
        _refused(next(r for r in pair if r.status_code == 409))
        assert winner.json()["state"] == "made"

        base = two_servers.bases[n % 2]
        assert (await _state(api, base, intro["id"]))["state"] == "made"
        ledger = _ok(
            await api.get(f"{base}/v1/ledger", params={"contact_id": intro["requester_id"]})
        )
        assert ledger["next_cursor"] is None
        assert [(e["direction"], e["kind"], e["introduction_id"]) for e in ledger["data"]] == [
            ("gave", "introduction", intro["id"])
        ]
        timeline = await _timeline(api, base, intro["id"])
        assert timeline.count("make") == 1
        assert timeline == ["request", "accept", "make"]
        # The requester's running totals counted the deposit once.
        balance = _ok(await api.get(f"{base}/v1/contacts/{intro['requester_id']}/reciprocity"))
        assert balance["deposits"] == ledger["data"][0]["weight"]
