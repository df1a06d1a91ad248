"""A real HTTP receiver on 127.0.0.1 for webhook tests, and a resolver that never asks DNS."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from app.events.targets import TargetRefused

READ_SECONDS = 5
MAX_HEADER_LINES = 100

# Hosts the tests may name. The public address is never connected to: only subscriptions
# whose deliveries are attempted point at the receiver, on 127.0.0.1.
HOSTS = {
    "localhost": ["127.0.0.1"],
    "hooks.example.com": ["93.184.215.14"],
    "crm.example.net": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "intranet.example.com": ["10.1.2.3"],
    "sneaky.example.com": ["93.184.215.14", "127.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
}


class StaticResolver:
    """Resolves from a table; a test may change an entry, as DNS can change."""

    def __init__(self, hosts: dict[str, list[str]] | None = None) -> None:
        self.hosts = {k: list(v) for k, v in (hosts or HOSTS).items()}

    async def resolve(self, host: str, port: int) -> list[str]:
        host.encode("idna")  # as getaddrinfo does first: UnicodeError on a label it cannot encode
        if host not in self.hosts:
            raise TargetRefused(f"the host {host} does not resolve")
        return list(self.hosts[host])


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP/1.1 server on 127.0.0.1 that records every request and answers `status`,
    or what `answer` says for the request."""

    status: int = 204
    answer: Callable[[Received], int] | None = None
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/goodwill?source=test"

    async def __aenter__(self) -> "Receiver":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_SECONDS):
                method, path, _ = (await reader.readline()).decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                for _ in range(MAX_HEADER_LINES):
                    line = (await reader.readline()).decode("latin-1")
                    if line in ("\r\n", "\n", ""):
                        break
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
            received = Received(method, path, headers, body)
            self.requests.append(received)
            status = self.answer(received) if self.answer else self.status
            head = f"HTTP/1.1 {status} Test\r\nContent-Length: 0\r\nConnection: close\r\n"
            writer.write(head.encode() + b"\r\n")
            await writer.drain()
        finally:
            writer.close()
