"""Absolute URLs and the Host header: a link the service hands out never follows a Host
header that nobody vouched for."""

import httpx
import pytest

from app.core.config import Settings
from tests.core.test_http import sibling_app
from tests.factories import create_introduction, create_pair


def client_at(app, host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}")


async def consent_url(client, owner) -> httpx.Response:
    requester, target = await create_pair(client, owner)
    intro = await create_introduction(client, owner, requester["id"], target["id"])
    return await client.post(
        f"/v1/introductions/{intro['id']}/consent-request", json={}, headers=owner.headers
    )


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.2"])
async def test_a_request_for_an_unlisted_host_is_400(app, db, owner, host):
    listed = sibling_app(app, public_base_url=None, allowed_hosts=["localhost", "127.0.0.1"])
    async with client_at(listed, host) as client:
        for response in (
            await client.get("/v1/me", headers=owner.headers),
            await client.get("/healthz"),
            await client.post("/v1/contacts", json={"display_name": "X"}, headers=owner.headers),
        ):
            assert response.status_code == 400
            assert response.headers["content-type"] == "application/problem+json"
            assert "host" in response.json()["detail"].lower()
    async with client_at(listed, "localhost:8000") as client:
        assert (await client.get("/v1/me", headers=owner.headers)).status_code == 200
        asked = await consent_url(client, owner)
        assert asked.json()["consent_url"].startswith("http://localhost:8000/consent/")
    async with client_at(listed, "127.0.0.1") as client:
        assert (await client.get("/v1/contacts", headers=owner.headers)).json()["data"]


async def test_allowed_hosts_may_name_a_domain_and_its_subdomains(app, db, owner):
    listed = sibling_app(app, public_base_url=None, allowed_hosts=["*.example.com"])
    async with client_at(listed, "api.example.com") as client:
        assert (await client.get("/v1/me", headers=owner.headers)).status_code == 200
    async with client_at(listed, "example.org") as client:
        assert (await client.get("/v1/me", headers=owner.headers)).status_code == 400


async def test_with_a_public_base_url_links_ignore_the_host(app, db, owner):
    public = sibling_app(
        app, public_base_url="https://goodwill.example.com/", allowed_hosts=["localhost"]
    )
    async with client_at(public, "evil.example") as client:
        asked = await consent_url(client, owner)
    assert asked.status_code == 200, asked.text
    assert asked.json()["consent_url"].startswith("https://goodwill.example.com/consent/")


def test_allowed_hosts_are_read_comma_separated(monkeypatch):
    monkeypatch.setenv("GOODWILL_ALLOWED_HOSTS", " api.example.com, localhost ,")
    assert Settings().allowed_hosts == ["api.example.com", "localhost"]
    monkeypatch.delenv("GOODWILL_ALLOWED_HOSTS")
    assert Settings().allowed_hosts == ["localhost", "127.0.0.1"]
