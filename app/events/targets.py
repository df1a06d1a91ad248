"""Where a webhook may be sent: never to a private, loopback, link-local, multicast or reserved
address (unless GOODWILL_WEBHOOK_ALLOW_PRIVATE), so that a subscription cannot be used to
reach into the network the service runs in.

The host is resolved when the subscription is made and again before every attempt, since
DNS can change in between; the attempt then connects to the very address that was checked
(`pinned_request`), so a second, different answer from DNS cannot slip past the check.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx

RESOLVE_SECONDS = 5.0
MAX_ADDRESSES = 8


class TargetRefused(Exception):
    """The URL's host is not somewhere webhooks may go; the message says why."""


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """The IP addresses of `host`, or raise TargetRefused."""
        ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo), in a thread, with a deadline."""

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(RESOLVE_SECONDS):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (TimeoutError, OSError) as exc:
            raise TargetRefused(f"the host {host} does not resolve") from exc
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why webhooks may not go to `address`, or None if they may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for flag, what in (
        ("is_loopback", "a loopback address"),
        ("is_private", "a private address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_unspecified", "the unspecified address"),
    ):
        if getattr(address, flag):
            return what
    if not address.is_global:  # shared (100.64/10), documentation ranges and the like
        return "not a public address"
    return None


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    addresses: list[str]


async def check_target(url: str, *, resolver: Resolver, allow_private: bool) -> Target:
    """Resolve the URL's host and refuse it if any of its addresses may not be reached."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = (await resolver.resolve(host, port))[:MAX_ADDRESSES]
    if not addresses:
        raise TargetRefused(f"the host {host} does not resolve")
    if not allow_private:
        for text in addresses:
            why = _refusal(ipaddress.ip_address(text.split("%", 1)[0]))
            if why is not None:
                raise TargetRefused(
                    f"{host} resolves to {text}, which is {why}; webhooks go to public "
                    "addresses only"
                )
    return Target(httpx.URL(url), addresses)


def pinned_request(
    client: httpx.AsyncClient, target: Target, address: str, *, content: bytes, headers: dict
) -> httpx.Request:
    """A POST to `target` that connects to `address`, keeping the Host header and, for
    https, the TLS server name (so the certificate is still checked against the host)."""
    url = target.url
    host = url.host
    request_headers = {**headers, "Host": url.netloc.decode("ascii")}
    extensions = {}
    if url.scheme == "https":
        extensions["sni_hostname"] = host
        # The pool keys connections by address, so one made for another host on the same
        # address (with that host's server name) must not be reused for this one.
        request_headers["Connection"] = "close"
    return client.build_request(
        "POST",
        url.copy_with(host=address),
        content=content,
        headers=request_headers,
        extensions=extensions,
    )
