"""Cross-cutting HTTP behaviour: request ids, limits, rate limiting, errors, operations."""

import logging
import os
import secrets
import uuid
from datetime import timedelta

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import update

from app.core.config import Settings
from app.core.idempotency import IdempotencyRecord, purge_expired
from app.core.logging import JsonLines, PlainText
from app.core.migrations import head_revision
from app.core.types import utcnow
from app.core.unit_of_work import commit
from app.main import create_app
from tests.factories import contact_body
from tests.faults import failing_statements, outage_error, statement_error
from tests.introductions.test_consent_page import consent_link


def sibling_app(app: FastAPI, **changes) -> FastAPI:
    """Another app instance (another 'replica') on the same test transaction."""
    settings = app.state.settings.model_copy(update=changes)
    other = create_app(settings)
    other.state.sessionmaker = app.state.sessionmaker
    return other


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_request_id_is_echoed_or_generated(client, owner):
    given = await client.get("/v1/me", headers={**owner.headers, "X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = await client.get("/v1/me", headers=owner.headers)
    assert len(generated.headers["x-request-id"]) == 32
    unsafe = await client.get("/v1/me", headers={**owner.headers, "X-Request-ID": "a b<script>"})
    assert unsafe.headers["x-request-id"] != "a b<script>"
    problem = await client.get("/v1/nowhere", headers={"X-Request-ID": "err-1"})
    assert problem.headers["x-request-id"] == "err-1"


async def test_body_over_one_mebibyte_is_413(client, owner):
    body = contact_body(notes="x" * 9_000)
    body["padding"] = "y" * (1024 * 1024)
    response = await client.post("/v1/contacts", json=body, headers=owner.headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413
    listed = await client.get("/v1/contacts", headers=owner.headers)
    assert listed.json()["data"] == []


async def test_unknown_path_and_method_are_problems(client, owner):
    missing = await client.get("/v1/nothing-here", headers=owner.headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.put("/v1/contacts", headers=owner.headers, json={})
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/problem+json"
    assert "allow" in wrong.headers


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/contacts/ct_x", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/v1/contacts", {"GET", "POST"}),
        ("PATCH", "/v1/ledger/le_x", {"GET"}),
        ("GET", "/v1/introductions/in_x/make", {"POST"}),
        ("PUT", "/v1/webhooks/wh_x", {"GET", "PATCH", "DELETE"}),
    ],
)
async def test_405_lists_every_method_of_the_path(client, owner, method, path, allowed):
    response = await client.request(method, path, headers=owner.headers)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


async def test_unexpected_errors_are_a_generic_problem(app, db):
    broken = sibling_app(app)

    @broken.get("/boom")
    async def boom() -> None:
        raise RuntimeError("SELECT secret FROM internals")

    async with client_for(broken) as client:
        response = await client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "boom-1"
    assert "SELECT" not in response.text and "Traceback" not in response.text
    assert response.json()["status"] == 500


async def test_rate_limit_answers_429_with_retry_after(app, owner):
    limited = sibling_app(app, rate_limit="3/minute")
    async with client_for(limited) as client:
        answers = [await client.get("/v1/me", headers=owner.headers) for _ in range(4)]
        other_key = await client.get("/v1/me", headers=owner.read_headers)
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["ratelimit-limit"] == "3"
    assert answers[0].headers["ratelimit-remaining"] == "2"
    refused = answers[3]
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    # The budget is per key.
    assert other_key.status_code == 200


async def test_rate_limit_headers_are_on_every_authenticated_answer(client, owner):
    missing = await client.get("/v1/contacts/ct_nope", headers=owner.headers)
    created = await client.post("/v1/api-keys", json={"name": "x"}, headers=owner.headers)
    revoked = await client.delete(f"/v1/api-keys/{created.json()['id']}", headers=owner.headers)
    for response in (missing, created, revoked):
        assert response.headers["ratelimit-limit"] == "100000", response.status_code


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("GOODWILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {url}")
    return url


async def test_replicas_share_the_rate_limit_through_redis(app, owner, redis_url):
    one = sibling_app(app, rate_limit="4/minute", redis_url=redis_url)
    two = sibling_app(app, rate_limit="4/minute", redis_url=redis_url)
    async with client_for(one) as a, client_for(two) as b:
        codes = [
            (await c.get("/v1/me", headers=owner.headers)).status_code for c in (a, b, a, b, a)
        ]
    assert codes == [200, 200, 200, 200, 429]


async def test_rate_limiter_outage_does_not_take_the_api_down(app, owner):
    unreachable = sibling_app(app, rate_limit="1/minute", redis_url="redis://127.0.0.1:1/0")
    async with client_for(unreachable) as client:
        codes = [(await client.get("/v1/me", headers=owner.headers)).status_code for _ in range(2)]
    assert codes == [200, 200]


async def test_operations_endpoints_need_no_key(client, owner):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    await client.get("/v1/me", headers=owner.headers)
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'goodwill_http_requests_total{method="GET",route="/v1/me",status="200"}' in metrics.text


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_operations_endpoints_refuse_unknown_query_parameters(client, path):
    response = await client.get(path, params={"verbose": "1"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "verbose", "message": "unknown query parameter"}]
    assert "takes no query parameters" in response.json()["detail"]


async def test_the_consent_page_alone_is_not_held_to_a_declared_query_string(app, client, owner):
    """The consent link travels by email, where mail systems and link trackers add
    parameters of their own; a person must still see the page."""
    hidden = {
        (route.path, method)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and not route.original_route.include_in_schema
        for method in route.methods
    }
    assert hidden == {("/consent/{token}", "GET"), ("/consent/{token}", "POST")}
    _, path = await consent_link(client, owner)
    page = await client.get(path, params={"utm_source": "newsletter", "fbclid": "x"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


async def test_unknown_query_parameters_are_named_whatever_they_are(client, owner):
    long = "p" * 300
    response = await client.get(
        "/v1/contacts",
        params=[("limt", "1"), ("", "x"), ("a b", "1"), (long, "1"), ("limt", "2")],
        headers=owner.headers,
    )
    assert response.status_code == 400
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == ["limt", "", "a b", "p" * 100]
    assert "Unknown query parameters: limt, '', a b, " + "p" * 100 + "." in problem["detail"]
    many = await client.get(
        "/v1/me", params={f"x{n}": "1" for n in range(30)}, headers=owner.headers
    )
    assert many.status_code == 400
    assert len(many.json()["errors"]) == 10
    assert "and 20 more" in many.json()["detail"]


async def test_a_body_on_an_endpoint_without_one_is_left_alone(client, owner):
    """415 is for operations that take JSON: a DELETE takes no body, whatever is sent."""
    contact = await client.post("/v1/contacts", json={"display_name": "A"}, headers=owner.headers)
    response = await client.request(
        "DELETE",
        f"/v1/contacts/{contact.json()['id']}",
        content=b"hello",
        headers={**owner.headers, "Content-Type": "text/plain"},
    )
    assert response.status_code == 204


async def test_an_optional_body_may_be_left_out_whatever_the_content_type(client, owner):
    webhook = await client.post(
        "/v1/webhooks",
        json={"url": "https://hooks.example.com/x", "events": ["*"]},
        headers=owner.headers,
    )
    url = f"/v1/webhooks/{webhook.json()['id']}/enable"
    for headers in ({}, {"Content-Type": "text/plain"}):
        response = await client.post(url, headers={**owner.headers, **headers})
        assert response.status_code == 200, response.text


async def test_readyz_fails_on_an_unmigrated_database(fresh_database_url):
    empty = create_app(
        Settings(database_url=fresh_database_url("unmigrated"), allowed_hosts=["test"])
    )
    async with client_for(empty) as client:
        response = await client.get("/readyz")
    await empty.state.engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert head_revision() is not None


async def test_logs_hold_no_personal_data(client, owner, caplog):
    marker = f"Zebulon{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.DEBUG):
        created = await client.post(
            "/v1/contacts",
            json=contact_body(display_name=marker, notes=marker, external_refs={}),
            headers=owner.headers,
        )
        await client.get("/v1/contacts", params={"q": marker}, headers=owner.headers)
        await client.post(
            "/v1/contacts", json={"display_name": marker, "bad": marker}, headers=owner.headers
        )
    assert created.status_code == 201
    access = [r for r in caplog.records if r.name.startswith("goodwill")]
    assert access, "requests are logged"
    for record in access:
        assert marker not in record.getMessage()
        assert marker not in str(record.__dict__)
        assert owner.api_key not in str(record.__dict__)


async def test_logs_hold_no_personal_data_when_the_database_fails(client, owner, engine, caplog):
    """Error records too: a driver's error may hold the SQL, SQLAlchemy's its parameters,
    and some drivers quote the values in their messages."""
    marker = f"Zebulon{uuid.uuid4().hex[:8]}"
    email = f"{marker.lower()}@example.org"
    phone = f"+4420794609{secrets.randbelow(100):02d}"
    notes = f"Worried about {marker}'s health"
    body = contact_body(
        display_name=marker,
        given_name=marker,
        notes=notes,
        channels=[{"type": "email", "value": email}, {"type": "phone", "value": phone}],
        external_refs={},
    )
    created = await client.post("/v1/contacts", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    _, consent_path = await consent_link(client, owner)
    token = consent_path.rpartition("/")[2]

    def in_request(sql: str) -> bool:
        return not sql.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))

    with caplog.at_level(logging.DEBUG):
        with failing_statements(engine, in_request, lambda: outage_error(engine)):
            answers = [
                await client.get(
                    "/v1/introductions", params={"contact_id": marker}, headers=owner.headers
                ),
                await client.post("/v1/contacts", json=body, headers=owner.headers),
                await client.patch(
                    f"/v1/contacts/{created.json()['id']}",
                    json={"notes": notes + "!"},
                    headers=owner.headers,
                ),
                await client.get(consent_path),
            ]
        assert [a.status_code for a in answers] == [503] * 4
        # A statement refused with the values quoted: a bug, logged with its traceback.
        quoted = f"duplicate key value: Key (value)=({email}, {phone}, {marker})"
        with failing_statements(
            engine,
            lambda sql: "INSERT INTO contact" in sql,
            lambda: statement_error(engine, quoted),
        ):
            # Without the email, which the first contact holds (that would be a 409 first).
            without_email = {**body, "channels": [{"type": "phone", "value": phone}]}
            bug = await client.post("/v1/contacts", json=without_email, headers=owner.headers)
        assert bug.status_code == 500
    # Everything the service logged; not the test's own client (httpx logs its URLs).
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.exc_info for r in records), "the error path was logged"
    for record in records:
        for formatter in (JsonLines(), PlainText()):
            line = formatter.format(record)
            for private in (marker, email, phone, notes, owner.api_key, token):
                assert private not in line, (record.name, record.msg)


async def test_expired_idempotency_keys_are_forgotten(client, owner, app):
    headers = {**owner.headers, "Idempotency-Key": "old"}
    first = await client.post("/v1/contacts", json={"display_name": "A"}, headers=headers)
    async with app.state.sessionmaker() as session:
        await session.exec(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.owner_id == owner.owner_id)
            .values(created_at=utcnow() - timedelta(hours=25))
        )
        await commit(session)
    # Past 24 h the key is new again: the request is done again, not replayed.
    second = await client.post("/v1/contacts", json={"display_name": "A"}, headers=headers)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    async with app.state.sessionmaker() as session:
        await session.exec(
            update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=25))
        )
        assert await purge_expired(session, timedelta(hours=24)) >= 1
        await commit(session)


async def test_nul_characters_are_refused_everywhere(client, owner):
    contact = await client.post("/v1/contacts", json={"display_name": "A"}, headers=owner.headers)
    cid = contact.json()["id"]
    bad_body = await client.post(
        "/v1/contacts", json={"display_name": "A\x00B"}, headers=owner.headers
    )
    assert bad_body.status_code == 422
    nested = await client.patch(
        f"/v1/contacts/{cid}", json={"tags": ["ok", "b\x00d"]}, headers=owner.headers
    )
    assert nested.status_code == 422
    for url in ("/v1/contacts?q=a%00b", "/v1/contacts?tag=%00", f"/v1/contacts/{cid}%00"):
        response = await client.get(url, headers=owner.headers)
        assert response.status_code == 400, url
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/v1/contacts/{cid}", headers=owner.headers)).json()["tags"] == []


async def test_overlong_ids_are_simply_not_found(client, owner):
    response = await client.get("/v1/contacts/" + "x" * 500, headers=owner.headers)
    assert response.status_code == 404
