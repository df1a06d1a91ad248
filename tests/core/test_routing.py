"""Endpoints called without FastAPI's solving (`plain_call`) answer exactly as FastAPI
would, and only endpoints with nothing to validate are called that way."""

from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

from app.contacts.routes import router as contacts_router
from app.core.routing import plain_call
from app.introductions.routes import router as introductions_router
from app.ledger.routes import router as ledger_router
from app.portability.routes import router as portability_router
from tests.factories import Actor

# Differ from one response to the next whichever way the request was handled.
VOLATILE = {"x-request-id", "ratelimit-remaining", "ratelimit-reset"}


def _plain_routes() -> set[tuple[str, str]]:
    routers = (contacts_router, ledger_router, introductions_router, portability_router)
    return {
        (method, route.path)
        for router in routers
        for route in router.routes
        if plain_call(route.dependant) is not None
        for method in route.methods
    }


def test_only_endpoints_with_nothing_to_validate_are_called_directly() -> None:
    # Query parameters (the list, reciprocity's ask_weight), bodies, and endpoints that
    # return a model for FastAPI to serialise all go through FastAPI's own handler.
    assert _plain_routes() == {
        ("GET", "/v1/contacts/{contact_id}"),
        ("GET", "/v1/export"),
        ("GET", "/v1/export.vcf"),
    }


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in VOLATILE}
    return response.status_code, headers, response.content


async def test_a_direct_call_answers_as_fastapi_would(
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: Actor,
    other_owner: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    solved_calls = 0
    solve = fastapi.routing.solve_dependencies

    async def counted(**kwargs: Any) -> Any:
        nonlocal solved_calls
        solved_calls += 1
        return await solve(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    created = await client.post(
        "/v1/contacts",
        json={
            "display_name": "Ada",
            "tags": ["x"],
            "channels": [{"type": "email", "value": "a@x.io"}],
        },
        headers=owner.headers,
    )
    contact = f"/v1/contacts/{created.json()['id']}"
    cases = [
        (contact, owner.headers),
        (contact, owner.read_headers),
        (contact, other_owner.headers),  # another owner's contact: 404
        (contact, {}),  # no key: 401
        (contact, {"Authorization": "Bearer gw_not-a-key"}),
        (contact, {"Authorization": "Basic abc"}),
        ("/v1/contacts/ct_missing", owner.headers),
        ("/v1/contacts/%20a%C3%A9", owner.headers),
        ("/v1/export.vcf", owner.headers),
    ]
    solved_calls = 0
    direct = [_comparable(await client.get(path, headers=h)) for path, h in cases]
    assert solved_calls == 0
    # Any dependency override sends every request through FastAPI's solving.
    unused = object()
    app.dependency_overrides[unused] = unused  # type: ignore[index]
    try:
        solved = [_comparable(await client.get(path, headers=h)) for path, h in cases]
    finally:
        del app.dependency_overrides[unused]  # type: ignore[arg-type]
    assert solved_calls == len(cases)
    assert [s for s, _, _ in direct] == [200, 200, 404, 401, 401, 401, 404, 404, 200]
    assert direct == solved
