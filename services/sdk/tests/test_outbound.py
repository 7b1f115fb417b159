"""The SSRF guard (cityhub_sdk.outbound): which addresses a caller-supplied URL may reach."""

from __future__ import annotations

import asyncio
import socket

import pytest
from cityhub_sdk.outbound import BlockedTarget, OutboundPolicy, UnresolvableTarget, parse_networks

REFUSED = [
    "127.0.0.1",
    "127.255.0.9",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.0.1",
    "100.64.0.1",
    "169.254.169.254",
    "0.0.0.0",
    "224.0.0.251",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "ff02::1",
    "ff0e::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
    "2001:db8::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "[2606:4700::1111]"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    policy = OutboundPolicy()
    assert not policy.allows(address)
    with pytest.raises(BlockedTarget):
        policy.check_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert OutboundPolicy().allows(address)


def test_allowed_networks_open_only_themselves() -> None:
    policy = OutboundPolicy("127.0.0.1/32, 10.20.0.0/16")
    assert policy.allows("127.0.0.1") and policy.allows("::ffff:127.0.0.1") and policy.allows("10.20.3.4")
    assert not policy.allows("127.0.0.2") and not policy.allows("10.21.0.1") and not policy.allows("::1")
    assert parse_networks("") == () and len(parse_networks(["::1/128", " "])) == 1
    with pytest.raises(ValueError):
        OutboundPolicy("10.0.0.0/33")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://[::1]:8443/x",
        "https://[::ffff:7f00:1]/x",
        "https://localhost/x",
        "https://LOCALHOST./x",
        "https://api.localhost/x",
        "http://0.0.0.0:80/",
    ],
)
def test_urls_with_local_hosts_are_refused_without_dns(url: str) -> None:
    with pytest.raises(BlockedTarget):
        OutboundPolicy().check_url(url, schemes=("https", "http"))


def test_only_the_given_schemes_are_urls() -> None:
    policy = OutboundPolicy()
    assert policy.check_url("https://push.example.net/a") == ("push.example.net", 443)
    for url in ("ftp://push.example.net/", "https:///x", "push.example.net", "http://push.example.net/"):
        with pytest.raises(ValueError):
            policy.check_url(url)


async def test_every_resolved_address_is_checked() -> None:
    """This machine's host name resolves to a non-public address: refused, unless its network is allowed."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)
    except OSError:
        pytest.skip(f"{name} does not resolve")
    addresses = {str(info[4][0]) for info in infos}
    if all(OutboundPolicy().allows(a) for a in addresses):
        pytest.skip(f"{name} resolves to public addresses only")
    with pytest.raises(BlockedTarget):
        await OutboundPolicy().check_url_resolved(f"https://{name}/push")
    allowed = OutboundPolicy(",".join(f"{a}/{32 if '.' in a else 128}" for a in addresses))
    assert {str(a) for a in await allowed.check_url_resolved(f"https://{name}/push")} == addresses
    with pytest.raises(UnresolvableTarget):
        await OutboundPolicy().check_resolved("does-not-exist.invalid", 443)


async def test_the_socket_factory_refuses_to_connect_to_a_blocked_address() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    info = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))
    try:
        with pytest.raises(BlockedTarget):
            OutboundPolicy().socket_factory(info)
        sock = OutboundPolicy("127.0.0.1/32").socket_factory(info)
        with sock:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    finally:
        server.close()
        await server.wait_closed()
