"""Clients on bad networks: a body that never arrives in full is answered, not waited on."""

import socket
import time

from app.core.migrations import upgrade
from tests.servers import create_owner, serving


def _send_partial_body(base: str, api_key: str) -> tuple[bytes, float]:
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(
            b"POST /v1/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {api_key}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            + b'{"display_name": "Slo'
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def test_a_body_that_stops_arriving_is_408(fresh_database_url, tmp_path):
    url = fresh_database_url("slow")
    upgrade(url)
    owner = create_owner(url, "slow@example.com")
    with serving(url, tmp_path, env={"GOODWILL_BODY_TIMEOUT_SECONDS": "1"}) as [server]:
        answer, waited = _send_partial_body(server.base, owner["api_key"])
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"application/problem+json" in answer
    assert 1 <= waited < 10
