"""Where a webhook may be sent: never to a private, loopback, link-local, multicast or reserved
address, nor to an IPv6 address that carries one (IPv4-mapped, 6to4, NAT64, Teredo), unless
GOODWILL_WEBHOOK_ALLOW_PRIVATE; never to port 0. So a subscription cannot be used to reach
into the network the service runs in.

The host is resolved when the subscription is made and again before every attempt, since
DNS can change in between; the attempt then connects to the very address that was checked
(`pinned_request`), so a second, different answer from DNS cannot slip past the check.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Protocol

import httpx

RESOLVE_SECONDS = 5.0
MAX_ADDRESSES = 8
MAX_PORT = 65535
MAX_NAME = 253  # DNS (RFC 1035): 255 octets on the wire, without the final dot
MAX_LABEL = 63


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


# Addresses that stand for an IPv4 address: traffic to them ends up at that address (through
# a relay or a translator), so it is that address that is judged.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# The local-use NAT64 prefix (RFC 8215) is not globally reachable, and where the IPv4 address
# sits in it depends on the prefix length the network chose, which cannot be known here.
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
LOW_32_BITS = 0xFFFF_FFFF


def _carried(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses `address` leads to, each with the form that carries it."""
    if address.ipv4_mapped is not None:
        return [("the IPv4-mapped form of", address.ipv4_mapped)]
    if address.sixtofour is not None:
        return [("the 6to4 form of", address.sixtofour)]
    if address.teredo is not None:
        server, client = address.teredo
        return [
            ("a Teredo address whose server is", server),
            ("a Teredo address whose client is", client),
        ]
    low = ipaddress.IPv4Address(int(address) & LOW_32_BITS)
    if address in NAT64:
        return [("the NAT64 form of", low)]
    if address in IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are judged as they are
        return [("the IPv4-compatible form of", low)]
    return []


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why webhooks may not go to `address`, or None if they may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in LOCAL_NAT64:
            return "a local-use NAT64 address"
        carried = _carried(address)
        for form, inner in carried:
            why = _refusal(inner)
            if why is not None:
                return f"{form} {inner}, {why}"
        if carried:
            return None
    # The specific reasons first: a link-local or loopback address is private too.
    for flag, what in (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "the unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_site_local", "a site-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, flag, False):
            return what
    if not address.is_global:  # shared (100.64/10), documentation ranges and the like
        return "not a public address"
    return None


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    addresses: list[str]


def _name_refusal(host: str) -> str | None:
    """Why `host` (ASCII, as DNS carries it) can never be looked up, or None."""
    name = host.removesuffix(".")  # a fully qualified name's final dot
    if not 0 < len(name) <= MAX_NAME:
        return f"the host name must be 1 to {MAX_NAME} characters long"
    if any(not 0 < len(label) <= MAX_LABEL for label in name.split(".")):
        return f"every label of the host name (between dots) must be 1 to {MAX_LABEL} characters"
    return None


def parse_target(url: str) -> httpx.URL:
    """The URL as httpx sends it, or raise TargetRefused if no request could go there.

    httpx lets through empty and over-long labels, which getaddrinfo then fails on with
    UnicodeError, and decodes an `xn--` host only when asked, raising on one that is not
    valid IDNA; so both are tried here, once, rather than met later as a 500 or a crashed
    worker pass."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host
    except (httpx.InvalidURL, ValueError) as exc:  # IDNAError is a ValueError
        raise TargetRefused(f"the host is not a valid host name ({exc})") from exc
    if parsed.port is not None and not 0 < parsed.port <= MAX_PORT:
        raise TargetRefused(f"the port must be 1 to {MAX_PORT}; port {parsed.port} is not")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        why = _name_refusal(parsed.raw_host.decode("ascii"))
        if why is not None:
            raise TargetRefused(why) from None
    return parsed


async def check_target(url: str, *, resolver: Resolver, allow_private: bool) -> Target:
    """Resolve the URL's host and refuse it if any of its addresses may not be reached."""
    parsed = parse_target(url)
    # Looked up as it is sent (IDNA 2008, by httpx), so the Host header names what was checked.
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
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
    return Target(parsed, addresses)


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
