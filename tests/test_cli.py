"""The `goodwill` command against a real database, and the server it starts, end to end:
what a newcomer does after `make run`."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.core.migrations import upgrade

GOODWILL = str(Path(sys.executable).with_name("goodwill"))


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GOODWILL_DATABASE_URL": url}
    return subprocess.run(  # noqa: S603
        [GOODWILL, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def cli_database(fresh_database_url) -> str:
    url = fresh_database_url("cli")
    result = run_cli(url, "migrate")
    assert result.returncode == 0, result.stderr
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_owner_and_key_commands_print_json_for_scripts(cli_database):
    created = run_cli(
        cli_database,
        "owners",
        "create",
        "--email",
        "Script@Example.com",
        "--name",
        "Scripted",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    owner = json.loads(created.stdout)
    assert set(owner) == {"owner_id", "api_key"}
    assert owner["api_key"].startswith("gw_")

    again = run_cli(cli_database, "owners", "create", "--email", "script@example.com")
    assert again.returncode == 1
    assert "already exists" in again.stderr

    key = run_cli(
        cli_database,
        "keys",
        "create",
        "--owner-email",
        "script@example.com",
        "--scope",
        "read",
        "--json",
    )
    assert key.returncode == 0, key.stderr
    read_only = json.loads(key.stdout)
    assert read_only["owner_id"] == owner["owner_id"]
    assert read_only["scopes"] == ["read"]

    unknown = run_cli(cli_database, "keys", "create", "--owner-email", "nobody@example.com")
    assert unknown.returncode == 1
    assert "No owner" in unknown.stderr


def test_migrate_is_repeatable(cli_database):
    assert run_cli(cli_database, "migrate").returncode == 0
    upgrade(cli_database)


def test_served_app_works_with_a_key_from_the_cli(cli_database):
    """`goodwill serve`, a key from `goodwill owners create`, and curl-like calls."""
    owner = json.loads(
        run_cli(
            cli_database, "owners", "create", "--email", "newcomer@example.com", "--json"
        ).stdout
    )
    port = free_port()
    env = {**os.environ, "GOODWILL_DATABASE_URL": cli_database}
    server = subprocess.Popen(  # noqa: S603
        [GOODWILL, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            assert server.poll() is None, "server exited"
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {owner['api_key']}"}
        created = httpx.post(
            f"{base}/v1/contacts", json={"display_name": "Ada"}, headers=headers, timeout=5
        )
        assert created.status_code == 201, created.text
        listed = httpx.get(f"{base}/v1/contacts", headers=headers, timeout=5)
        assert [c["id"] for c in listed.json()["data"]] == [created.json()["id"]]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
    assert "owners create" in output  # the start-up message says how to get a key
    assert "Ada" not in output  # no personal data in the logs
