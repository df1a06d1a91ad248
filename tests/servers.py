"""Real `goodwill` processes for end-to-end tests: the CLI, and `goodwill serve` on a free
port of 127.0.0.1, each logging to a file, stopped when the block ends."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.core.migrations import upgrade

GOODWILL = str(Path(sys.executable).with_name("goodwill"))
READY_SECONDS = 20
CLI_SECONDS = 60
STOP_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def goodwill_env(url: str, **extra: str) -> dict[str, str]:
    """The environment for a `goodwill` process on database `url`; no rate limit in the way."""
    return {
        **os.environ,
        "GOODWILL_DATABASE_URL": url,
        "GOODWILL_RATE_LIMIT": "100000/minute",
        **extra,
    }


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [GOODWILL, *args],
        env=goodwill_env(url),
        capture_output=True,
        text=True,
        timeout=CLI_SECONDS,
        check=False,
    )


def create_owner(url: str, email: str, name: str | None = None) -> dict[str, str]:
    """`goodwill owners create --json`: {"owner_id", "api_key"}."""
    args = ["owners", "create", "--email", email, "--json"]
    if name is not None:
        args += ["--name", name]
    result = run_cli(url, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"server exited:\n{server.log_tail()}"
        try:
            if httpx.get(f"{server.base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{server.base} not ready after {READY_SECONDS} s:\n{server.log_tail()}")


def _stop(servers: list[Server]) -> None:
    for server in servers:
        server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


@contextmanager
def serving(
    url: str,
    log_dir: Path,
    *,
    count: int = 1,
    ports: list[int] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[Server]]:
    """`count` processes of `goodwill serve --workers 1` on database `url`, ready to answer.

    `ports` fixes the ports (say, to put one in GOODWILL_PUBLIC_BASE_URL first); by default
    each takes a free one."""
    ports = ports or [free_port() for _ in range(count)]
    assert len(ports) == count
    full_env = {**goodwill_env(url), **(env or {})}
    servers: list[Server] = []
    try:
        for n, port in enumerate(ports):
            # A file, not a pipe: every request is logged, and a full pipe would stall the server.
            log = log_dir / f"server-{n}.log"
            with log.open("w") as out:
                process = subprocess.Popen(  # noqa: S603
                    [GOODWILL, "serve", "--port", str(port), "--workers", "1"],
                    env=full_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            servers.append(Server(f"http://127.0.0.1:{port}", process, log))
        for server in servers:
            _wait_ready(server)
        yield servers
    finally:
        _stop(servers)


@dataclass
class Servers:
    """Two (or more) server processes on one database, and one owner's key for them."""

    bases: list[str]
    headers: dict[str, str]


@contextmanager
def owner_on_servers(
    url: str,
    log_dir: Path,
    email: str,
    *,
    count: int = 2,
    env: Mapping[str, str] | None = None,
) -> Iterator[Servers]:
    """Migrate `url`, make an owner (`email`) and serve it from `count` processes: the
    concurrency tests' world, where only the database can settle a race."""
    upgrade(url)
    api_key = create_owner(url, email)["api_key"]
    with serving(url, log_dir, count=count, env=env) as servers:
        yield Servers([s.base for s in servers], {"Authorization": f"Bearer {api_key}"})
