"""The address check every webhook target passes, at subscription time and before every
attempt, as production runs it: private targets not allowed."""

import ipaddress

import pytest

from app.events.targets import SystemResolver, TargetRefused, check_target
from tests.events.receiver import HOSTS, StaticResolver


async def check(url: str, **hosts: list[str]) -> list[str]:
    resolver = StaticResolver({**HOSTS, **hosts})
    return (await check_target(url, resolver=resolver, allow_private=False)).addresses


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("2002:7f00:1::", "6to4 form of 127.0.0.1, a loopback"),
        ("2002:a9fe:a9fe::", "6to4 form of 169.254.169.254, a link-local"),
        ("2002:a00:1::", "6to4 form of 10.0.0.1, a private"),
        ("64:ff9b::7f00:1", "NAT64 form of 127.0.0.1, a loopback"),
        ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254, a link-local"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("64:ff9b:1::808:808", "local-use NAT64"),
        ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, a link-local"),
        ("::127.0.0.1", "IPv4-compatible form of 127.0.0.1, a loopback"),
        ("::a00:1", "IPv4-compatible form of 10.0.0.1, a private"),
        (
            "2001:0:7f00:1:8000:ffff:fefe:fefe",
            "Teredo address whose server is 127.0.0.1, a loopback",
        ),
        (
            "2001:0:808:808:8000:ffff:80ff:fffe",
            "Teredo address whose client is 127.0.0.1, a loopback",
        ),
        ("2001:0:808:808:8000:ffff:5601:5601", "whose client is 169.254.169.254, a link-local"),
        ("fec0::1", "site-local"),
        ("fd00::1", "private"),
        ("fe80::1", "link-local"),
        ("::1", "loopback"),
        ("::", "unspecified"),
    ],
)
async def test_addresses_that_lead_inside_are_refused(address, why):
    with pytest.raises(TargetRefused, match=why):
        await check(f"http://[{address}]/hooks")
    with pytest.raises(TargetRefused, match=why):  # as DNS may answer
        await check("http://tunnel.example.com/hooks", **{"tunnel.example.com": [address]})


@pytest.mark.parametrize(
    "address",
    [
        "2002:808:808::",  # 6to4 of 8.8.8.8
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8: how an IPv6-only network reaches it
        "::ffff:8.8.8.8",
        "::8.8.8.8",
        "2001:0:808:808:8000:ffff:fefe:fefe",  # Teredo: server 8.8.8.8, client 1.1.1.1
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    ],
)
async def test_addresses_that_carry_a_public_one_are_accepted(address):
    assert await check(f"http://[{address}]/hooks") == [str(ipaddress.ip_address(address))]


@pytest.mark.parametrize(
    "url", ["http://hooks.example.com:0/", "https://[2606:4700::1111]:0/", "http://127.0.0.1:0/"]
)
async def test_port_0_is_refused(url):
    with pytest.raises(TargetRefused, match="port"):
        await check(url)
    resolver = StaticResolver()
    with pytest.raises(TargetRefused, match="port"):  # whatever the address
        await check_target(url, resolver=resolver, allow_private=True)


@pytest.mark.parametrize("host", ["a..b", "a" * 64 + ".example.com", "-" * 254])
async def test_a_host_that_cannot_be_looked_up_is_refused_before_any_lookup(host):
    """getaddrinfo raises UnicodeError, not OSError, on such a host."""
    with pytest.raises(TargetRefused, match="host"):
        await check_target(f"https://{host}/hooks", resolver=SystemResolver(), allow_private=True)
