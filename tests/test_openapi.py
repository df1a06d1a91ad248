"""The published OpenAPI document: committed without drift, and honoured by every operation.

The fuzz tests generate requests from the app's own OpenAPI document with schemathesis and
send them to the real app (real auth, real session and commit path) inside the usual
rolled-back test transaction. Hypothesis runs in a worker thread, because its tests are
synchronous, while each request is sent on pytest-asyncio's session loop, where the test
database connection lives; a failure is shrunk to a minimal request and reported with a
curl command.

The examples are the same on every run, so the suite cannot flake. To hunt for bugs by hand:
`GOODWILL_FUZZ_EXAMPLES=500 GOODWILL_FUZZ_RANDOM=1 .venv/bin/pytest tests/test_openapi.py`.
"""

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import Actor, create_contact

OPENAPI_JSON = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
BASE_URL = "http://test"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Examples per operation and generation mode; the whole file must stay well under a minute.
MAX_EXAMPLES = int(os.environ.get("GOODWILL_FUZZ_EXAMPLES", "25"))
DERANDOMIZE = os.environ.get("GOODWILL_FUZZ_RANDOM", "") != "1"


def valid_key_is_accepted(ctx: Any, response: Any, case: Case) -> bool | None:
    """Every request carries a valid read-write key, so a 401 or 403 is a bug (in the app,
    or in this harness)."""
    if case.headers and "Authorization" in case.headers and response.status_code in (401, 403):
        raise AssertionError(f"a valid read-write API key was refused: {response.status_code}")
    return None


CHECKS = [
    valid_key_is_accepted,
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _app_document(app: FastAPI) -> dict[str, Any]:
    # A JSON round trip, so that tuples, enums and the like compare as a client reads them.
    return json.loads(json.dumps(app.openapi()))


_ANNOTATIONS = {"title", "description", "example", "examples", "deprecated"}


def _can_be_made_invalid(operation: dict[str, Any], document: dict[str, Any]) -> bool:
    """Negative data needs something to break other than the (fixed, valid) API key: a body,
    a query parameter, or a path or header parameter with constraints (any string is a valid
    value of an unconstrained one, once it is in the URL or a header)."""
    if "requestBody" in operation:
        return True
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        schema = parameter.get("schema", {})
        if parameter["in"] not in ("path", "header") or schema.get("type") != "string":
            return True
        if set(schema) - _ANNOTATIONS - {"type"}:
            return True
    return False


def _fuzz_params(*, operations_tag: bool) -> list[Any]:
    """(method, path, mode) for every operation of the committed document, which the first
    test below proves equal to the app's; each operation is then a test of its own."""
    document = json.loads(OPENAPI_JSON.read_text())
    params = []
    for path, item in sorted(document["paths"].items()):
        for method, operation in sorted(item.items()):
            if method not in HTTP_METHODS:
                continue
            if ("operations" in operation.get("tags", [])) != operations_tag:
                continue
            modes = [GenerationMode.POSITIVE]
            if _can_be_made_invalid(operation, document):
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                label = f"{method.upper()} {path} {mode.value}"
                params.append(pytest.param(method.upper(), path, mode, id=label))
    return params


def _differences(committed: Any, current: Any, where: str = "", depth: int = 3) -> list[str]:
    """JSON pointers to where two documents differ, at most `depth` levels down."""
    if committed == current:
        return []
    if depth == 0 or not (isinstance(committed, dict) and isinstance(current, dict)):
        return [where or "/"]
    out = []
    for key in sorted(committed.keys() | current.keys()):
        pointer = f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"
        if key not in current:
            out.append(f"{pointer} (only in openapi/openapi.json)")
        elif key not in committed:
            out.append(f"{pointer} (only in the app)")
        else:
            out += _differences(committed[key], current[key], pointer, depth - 1)
    return out


def test_committed_openapi_matches_the_app(app: FastAPI) -> None:
    committed = json.loads(OPENAPI_JSON.read_text())
    differences = _differences(committed, _app_document(app))
    assert not differences, (
        "openapi/openapi.json differs from the app's OpenAPI document; run `make openapi`.\n"
        + "\n".join(differences)
    )


@pytest.fixture(scope="module")
def api_schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_dict(_app_document(app))


async def _real_ids(
    client: httpx.AsyncClient, owner: Actor, operations: set[tuple[str, str]]
) -> dict[str, str]:
    """Resources of the calling owner, by the name of the parameter or field that refers to
    them, so that some requests reach past the 404."""

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        return response.json()

    contact = await create_contact(client, owner)
    ids = {"contact_id": contact["id"]}
    interaction = await post(
        f"/v1/contacts/{contact['id']}/interactions", {"kind": "coffee", "summary": "Engines."}
    )
    ids["interaction_id"] = interaction["id"]
    # A key of its own, so that revoking it does not lock the fuzzer out.
    ids["key_id"] = (await post("/v1/api-keys", {"name": "fuzz target"}))["id"]
    if ("POST", "/v1/webhooks") in operations:
        hook = {"url": "https://hooks.example.com/fuzz", "events": ["*"]}
        ids["webhook_id"] = (await post("/v1/webhooks", hook))["id"]
    if ("POST", "/v1/ledger") in operations:
        entry = {"contact_id": contact["id"], "direction": "gave", "kind": "advice", "weight": 2}
        ids["entry_id"] = (await post("/v1/ledger", entry))["id"]
    return ids


def _httpx_kwargs(case: Case) -> dict[str, Any]:
    """Schemathesis serialises a case for `requests`; translate that for httpx."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    request: dict[str, Any] = {
        "method": kwargs.pop("method"),
        "url": kwargs.pop("url"),
        # Header values as bytes: generated values need not be ASCII.
        "headers": {
            k: v.encode() if isinstance(v, str) else v for k, v in kwargs.pop("headers").items()
        },
        "params": kwargs.pop("params", None),
    }
    cookies = kwargs.pop("cookies", None)
    if cookies:
        request["headers"]["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()
    if "json" in kwargs:
        request["json"] = kwargs.pop("json")
    data = kwargs.pop("data", None)
    if isinstance(data, str | bytes):
        request["content"] = data
    elif data is not None:
        request["data"] = data
    if "files" in kwargs:
        request["files"] = kwargs.pop("files")
    kwargs.pop("timeout", None)
    assert not kwargs, f"unexpected transport arguments: {sorted(kwargs)}"
    return request


def _refer_to(real_ids: dict[str, str], case: Case) -> Case:
    """Point the id fields of a valid body or query (`contact_id`) at real resources."""
    for container in (case.body, case.query):
        if isinstance(container, dict):
            for name in container.keys() & real_ids.keys():
                container[name] = real_ids[name]
    return case


def _strategy(
    operation: Any, mode: GenerationMode, real_ids: dict[str, str], headers: dict[str, str]
) -> Any:
    # A fixed, valid Authorization header: negative cases then break something else.
    strategy = operation.as_strategy(mode, headers=headers or None)
    names = {p.name for p in operation.path_parameters}
    known = {name: real_ids[name] for name in names if name in real_ids}
    if known:
        # About half of the requests address resources that exist; the rest random ids.
        strategy = strategy | operation.as_strategy(
            mode, headers=headers or None, path_parameters=known
        )
    if real_ids and mode is GenerationMode.POSITIVE:
        # Only valid cases: in an invalid one, the id may be the part made invalid on purpose.
        strategy = st.tuples(strategy, st.booleans()).map(
            lambda pair: _refer_to(real_ids, pair[0]) if pair[1] else pair[0]
        )
    return strategy


def _fuzz(strategy: Any, send: Callable[[Case], httpx.Response]) -> None:
    """Run in a worker thread: Hypothesis draws, shrinks and reports; `send` does the I/O."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Case) -> None:
        case.validate_response(send(case), checks=CHECKS)

    run()


async def _check_operation(
    operation: Any,
    mode: GenerationMode,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    real_ids: dict[str, str],
) -> None:
    loop = asyncio.get_running_loop()

    def send(case: Case) -> httpx.Response:
        # Sent on the test's own loop, where the app's database connection lives.
        request = client.request(**_httpx_kwargs(case))
        return asyncio.run_coroutine_threadsafe(request, loop).result(timeout=60)

    strategy = _strategy(operation, mode, real_ids, headers)
    try:
        await asyncio.to_thread(_fuzz, strategy, send)
    except Unsatisfiable:
        if mode is not GenerationMode.NEGATIVE:
            raise
        pytest.skip("no schema-invalid request can be built for this operation")


@pytest.mark.parametrize(("method", "path", "mode"), _fuzz_params(operations_tag=False))
async def test_api_operation_keeps_its_documented_contract(
    api_schema: Any,
    app: FastAPI,
    client: httpx.AsyncClient,
    owner: Actor,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    """Valid and invalid requests with a valid read-write key: never a 5xx, and every answer
    has a documented status code, content type, headers and body."""
    document = _app_document(app)
    operations = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    real_ids = await _real_ids(client, owner, operations)
    await _check_operation(api_schema[path][method], mode, client, owner.headers, real_ids)


@pytest.mark.parametrize(("method", "path", "mode"), _fuzz_params(operations_tag=True))
async def test_operations_endpoint_keeps_its_documented_contract(
    api_schema: Any, app: FastAPI, method: str, path: str, mode: GenerationMode
) -> None:
    """Health, readiness and metrics, without a key and outside any test transaction: a
    load balancer sees the database as it is (on SQLite, the rolled-back test transaction
    would hold the write lock that /readyz waits for)."""
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            await _check_operation(api_schema[path][method], mode, client, {}, {})
    finally:
        # /readyz pooled a connection of the app's own engine on this loop; close it here.
        await app.state.engine.dispose()
