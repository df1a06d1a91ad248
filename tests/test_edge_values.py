"""Every endpoint, sent the values hostile and careless clients send (tests/strategies.py):
whatever arrives, the answer is a 2xx, a 3xx or a 4xx problem, never a 5xx.

schemathesis (tests/test_openapi.py) generates what the schema allows; these strategies aim
below it: the calendar's ends once converted to UTC, integers past a column's range, text
PostgreSQL cannot store, cursors edited after signing, hosts that IDNA or a resolver chokes
on. Each value goes where a value of its kind is taken: the endpoint's query parameters and
body fields are read from the app's own OpenAPI document, so a new one is fuzzed too.
"""

import asyncio
import json
import os
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import strategies as edge
from tests.test_conventions_matrix import ENDPOINTS, Endpoint, World, build_world

# The suite runs the same examples every time (derandomized); set GOODWILL_FUZZ_EXAMPLES for
# a longer run with new examples each time.
EXAMPLES = int(os.environ.get("GOODWILL_FUZZ_EXAMPLES", "60"))
DERANDOMIZE = "GOODWILL_FUZZ_EXAMPLES" not in os.environ


def _flat(schema: dict, spec: dict) -> dict:
    """A schema without its $ref and its `anyOf: [X, null]`."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return _flat(option, spec)
    return schema


def values_for(name: str, schema: dict) -> st.SearchStrategy[Any]:
    """Edge values of the kind a field or parameter takes, and now and then any other."""
    kind = schema.get("type")
    if schema.get("format") == "date-time" or name.endswith(("_at", "_since")):
        aimed = edge.timestamps
    elif name == "url" or schema.get("format") == "uri":
        aimed = edge.hostile_urls
    elif kind == "integer":
        aimed = edge.integers
    elif kind == "array":
        aimed = st.lists(edge.any_text, max_size=5)
    else:
        aimed = edge.any_text
    return st.one_of(aimed, aimed, aimed, edge.edge_json)


def query_values(name: str, schema: dict) -> st.SearchStrategy[Any]:
    plain = values_for(name, schema).map(
        lambda v: v if isinstance(v, str) else json.dumps(v, allow_nan=True)
    )
    return st.one_of(
        plain.filter(lambda text: not any(0xD800 <= ord(c) <= 0xDFFF for c in text)),
        st.sampled_from(edge.RAW_QUERY_VALUES).map(lambda raw: ("raw", raw)),
    )


def operation(app, endpoint: Endpoint) -> tuple[dict[str, dict], dict[str, dict]]:
    """The endpoint's query parameters and body fields, each with its schema."""
    spec = app.openapi()
    op = spec["paths"][endpoint.path][endpoint.method.lower()]
    # The query string's parameters; path ids and the headers an operation reads (references
    # to the document's parameters) get edge values of their own in `requests`.
    query = {
        p["name"]: _flat(p["schema"], spec)
        for p in op.get("parameters", [])
        if p.get("in") == "query"
    }
    body: dict[str, dict] = {}
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content:
        body = {
            name: _flat(schema, spec)
            for name, schema in _flat(content["schema"], spec).get("properties", {}).items()
        }
    return query, body


def query_string(params: list[tuple[str, Any]]) -> str:
    parts = []
    for name, value in params:
        encoded = value[1] if isinstance(value, tuple) else quote(value, safe="")
        parts.append(f"{name}={encoded}")
    return "&".join(parts)


@st.composite
def requests(draw: st.DrawFn, app, endpoint: Endpoint, world: World, cursor: str | None) -> dict:
    """One request to `endpoint` with an edge value in one of its query parameters, body
    fields, path ids or headers (and now and then in a second)."""
    query, fields = operation(app, endpoint)
    places = [("query", name) for name in sorted(query)]
    places += [("query", name) for name in ("cursor", "after") if name in query and cursor]
    places += [("body", name) for name in sorted(fields)]
    places += [("path", param) for param in endpoint.path_params]
    places += [("header", name) for name in ("Idempotency-Key", "If-Match", "If-None-Match")]
    params: list[tuple[str, Any]] = []
    body = endpoint.payload(world)
    ids = world.path_ids()
    headers: dict[str, bytes] = {}
    for where, name in draw(st.lists(st.sampled_from(places), min_size=1, max_size=2)):
        if where == "query" and name in ("cursor", "after") and cursor is not None:
            mutated = edge.mutated(cursor)
            params.append(
                (name, draw(st.one_of(mutated, mutated, mutated, query_values(name, {}))))
            )
        elif where == "query":
            params.append((name, draw(query_values(name, query[name]))))
        elif where == "body":
            body = {**(body or {}), name: draw(values_for(name, fields[name]))}
        elif where == "path":
            ids[name] = quote(draw(edge.query_text), safe="") or "%20"
        else:
            headers[name] = draw(edge.query_text).encode()
    return {
        "method": endpoint.method,
        "url": endpoint.path.format(**ids) + ("?" + query_string(params) if params else ""),
        "content": None if body is None else json.dumps(body, allow_nan=True).encode(),
        "headers": headers,
    }


async def real_cursor(client, owner, endpoint: Endpoint, world: World) -> str | None:
    if not endpoint.lists:
        return None
    page = await client.get(endpoint.url(world), params={"limit": 1}, headers=owner.headers)
    return page.json().get("next_cursor") if page.status_code == 200 else None


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_no_value_reaches_a_server_error(app, client, owner, endpoint):
    world = await build_world(client, owner)
    await build_world(client, owner)  # a second of each, so every list has a next page
    cursor = await real_cursor(client, owner, endpoint, world)
    loop = asyncio.get_running_loop()

    def run(coro):
        # Hypothesis drives from a worker thread; requests run on the test's own loop,
        # where the test database connection lives.
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests(app, endpoint, world, cursor))
    def check(request: dict) -> None:
        headers = {**owner.headers, "Content-Type": "application/json", **request["headers"]}
        response = run(
            client.request(
                request["method"], request["url"], content=request["content"], headers=headers
            )
        )
        assert response.status_code < 500, (request, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", request

    await asyncio.to_thread(check)
