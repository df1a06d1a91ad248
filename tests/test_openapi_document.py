"""What the OpenAPI document (app/core/openapi.py) says of every operation, held to what the
app does: the headers each answer carries, the request headers each operation reads, the
examples of request bodies, operation ids and tags. The statuses and the bodies are fuzzed
against the document by tests/test_openapi.py; a generated client calls it in
`make client-check`.
"""

import re
from typing import Any

import pytest
from fastapi import FastAPI

from app.core.schemas import InputModel
from tests.test_conventions_matrix import ENDPOINTS, Endpoint, build_world, send

# The headers of the conventions: each one an answer carries must be declared for its status.
CONVENTION_HEADERS = (
    "Accept-Patch",
    "ETag",
    "Location",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "WWW-Authenticate",
    "X-Request-ID",
)


def operation_of(app: FastAPI, endpoint: Endpoint) -> dict[str, Any]:
    return app.openapi()["paths"][endpoint.path][endpoint.method.lower()]


def declared_headers(app: FastAPI, endpoint: Endpoint, status: int) -> dict[str, Any]:
    document = app.openapi()
    response = operation_of(app, endpoint)["responses"][str(status)]
    headers = {}
    for name, header in response.get("headers", {}).items():
        if "$ref" in header:
            header = document["components"]["headers"][header["$ref"].rsplit("/", 1)[1]]
        headers[name] = header
    return headers


def declared_parameters(app: FastAPI, endpoint: Endpoint) -> set[str]:
    document = app.openapi()
    names = set()
    for parameter in operation_of(app, endpoint).get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        names.add(parameter["name"])
    return names


def assert_headers_declared(app: FastAPI, endpoint: Endpoint, response: Any) -> None:
    declared = declared_headers(app, endpoint, response.status_code)
    sent = {name for name in CONVENTION_HEADERS if name.lower() in response.headers}
    assert sent <= set(declared), f"{endpoint} {response.status_code} sends undeclared headers"
    required = {name for name, header in declared.items() if header.get("required")}
    assert required <= sent, f"{endpoint} {response.status_code} lacks required headers"


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.succeeds], ids=str)
async def test_every_header_an_answer_carries_is_declared(app, client, owner, endpoint):
    world = await build_world(client, owner)
    response = await send(client, endpoint, world, {**owner.headers, "Idempotency-Key": "doc-1"})
    assert response.status_code < 300, response.text
    assert_headers_declared(app, endpoint, response)
    if endpoint.method == "POST":  # the replay, with its own header
        replay = await send(client, endpoint, world, {**owner.headers, "Idempotency-Key": "doc-1"})
        assert replay.headers["idempotent-replayed"] == "true"
        assert_headers_declared(app, endpoint, replay)
    etag = response.headers.get("etag")
    if endpoint.method == "GET" and etag:
        assert "If-None-Match" in declared_parameters(app, endpoint)
        unchanged = await send(client, endpoint, world, {**owner.headers, "If-None-Match": etag})
        assert unchanged.status_code == 304
        assert_headers_declared(app, endpoint, unchanged)
    else:
        assert "304" not in operation_of(app, endpoint)["responses"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_problems_carry_their_declared_headers(app, client, owner, endpoint):
    world = await build_world(client, owner)
    unauthenticated = await send(client, endpoint, world, {})
    assert unauthenticated.status_code == 401
    assert_headers_declared(app, endpoint, unauthenticated)
    unknown = await client.request(
        endpoint.method,
        endpoint.url(world, query=False) + "?no_such_parameter=1",
        headers=owner.headers,
    )
    assert unknown.status_code == 400
    assert_headers_declared(app, endpoint, unknown)


def test_each_operation_reads_the_headers_of_its_method(app: FastAPI) -> None:
    for endpoint in ENDPOINTS:
        parameters = declared_parameters(app, endpoint)
        assert ("Idempotency-Key" in parameters) == (endpoint.method == "POST"), endpoint
        conditional = endpoint.method in ("PATCH", "DELETE", "PUT")
        assert ("If-Match" in parameters) == conditional, endpoint


def test_operation_ids_read_as_method_names(app: FastAPI) -> None:
    ids = [
        operation["operationId"]
        for item in app.openapi()["paths"].values()
        for operation in item.values()
    ]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", i) for i in ids), ids
    assert {"list_contacts", "create_contact", "read_contact", "update_contact"} <= set(ids)


def test_every_tag_is_declared_with_a_description(app: FastAPI) -> None:
    document = app.openapi()
    declared = {tag["name"]: tag.get("description") for tag in document["tags"]}
    used = {t for item in document["paths"].values() for op in item.values() for t in op["tags"]}
    assert used <= set(declared)
    assert all(declared.values())


def _input_models() -> dict[str, type[InputModel]]:
    found, pending = {}, list(InputModel.__subclasses__())
    while pending:
        model = pending.pop()
        found[model.__name__] = model
        pending += model.__subclasses__()
    return found


def test_every_json_request_body_has_a_valid_example(app: FastAPI) -> None:
    document = app.openapi()
    schemas, models = document["components"]["schemas"], _input_models()
    for item in document["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = content["application/json"]["schema"]
            refs = [s["$ref"] for s in [schema, *schema.get("anyOf", [])] if "$ref" in s]
            for name in (ref.rsplit("/", 1)[1] for ref in refs):
                examples = schemas[name].get("examples")
                assert examples, f"{name} has no example"
                for example in examples:
                    # The app's own judgement; Spectral checks them against the schema.
                    models[name].model_validate(example)
