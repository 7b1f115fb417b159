"""Outbound connections to addresses that callers supply (push endpoints, department addresses): SSRF guard.

A URL a resident or a department hands us must not make the platform reach into its own network.
Only public unicast addresses may be dialled: loopback, private, shared (CGNAT), link-local
(cloud metadata at 169.254.169.254), multicast, reserved and unspecified ones are refused, for
IPv4 and IPv6 alike, including IPv4 embedded in IPv6 (mapped `::ffff:a.b.c.d`, NAT64, 6to4,
Teredo). `OUTBOUND_ALLOWED_NETWORKS` (comma-separated CIDRs, empty by default) opens chosen
networks, e.g. a cluster's pod range for department services, or `127.0.0.1/32` in tests.

Checking a name once is not enough: it may resolve to another address when the connection is
made (DNS rebinding) or the server may redirect. So a host name is resolved and *every* address
checked (`check_url_resolved`, for registration and before each send), and `socket_factory` checks
the very address each socket connects to (give it to aiohttp's `TCPConnector(socket_factory=...)`),
which also covers redirects and pooled reconnects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
DEFAULT_RESOLVE_TIMEOUT_S = 5.0


class BlockedTarget(OSError):
    """The target is not a public address and no allowed network contains it.

    An OSError so that HTTP clients treat a refused socket as a failed connection.
    """


class UnresolvableTarget(OSError):
    """The host name does not resolve (now): the request cannot be checked, so it is not made."""


def parse_networks(values: str | Iterable[str]) -> tuple[Network, ...]:
    """`"10.0.0.0/8, 127.0.0.1"` or a list of CIDRs -> networks; a bad entry raises ValueError at start-up."""
    items = values.split(",") if isinstance(values, str) else values
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _embedded(address: Address) -> list[Address]:
    """The address itself and any IPv4 address it carries (mapped, NAT64, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    found: list[Address] = [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def _public(address: Address) -> bool:
    if address in _NAT64:  # judged by the IPv4 address it embeds
        return True
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified or address.is_link_local
    )


def _parse_address(value: str | Address) -> Address:
    if isinstance(value, str):
        value = value.strip("[]").split("%", 1)[0]  # [v6] and a zone id (fe80::1%eth0)
        return ipaddress.ip_address(value)
    return value


class OutboundPolicy:
    """Which addresses the platform may connect to on a caller's behalf."""

    def __init__(
        self,
        allowed_networks: str | Iterable[str | Network] = "",
        *,
        resolve_timeout_s: float = DEFAULT_RESOLVE_TIMEOUT_S,
    ) -> None:
        if isinstance(allowed_networks, str):
            self.allowed: tuple[Network, ...] = parse_networks(allowed_networks)
        else:
            self.allowed = tuple(
                n if not isinstance(n, str) else ipaddress.ip_network(n.strip(), strict=False) for n in allowed_networks
            )
        self.resolve_timeout_s = resolve_timeout_s

    def allows(self, address: str | Address) -> bool:
        """True for a public unicast address, or one inside an allowed network."""
        parsed = _parse_address(address)
        candidates = _embedded(parsed)
        if any(c in n for c in (parsed, *candidates) for n in self.allowed if c.version == n.version):
            return True
        return all(_public(c) for c in candidates)

    def check_address(self, address: str | Address) -> None:
        if not self.allows(address):
            raise BlockedTarget(f"{address} is not a public address")

    def check_host(self, host: str) -> None:
        """A check without DNS: literal addresses and local names (`localhost`, `*.localhost`)."""
        name = host.strip("[]").rstrip(".").lower()
        if name in _LOCAL_NAMES or name.endswith(".localhost"):
            self.check_address("127.0.0.1")
            return
        try:
            address = _parse_address(name)
        except ValueError:
            return  # a name: resolved and checked by check_resolved / socket_factory
        self.check_address(address)

    def check_url(self, url: str, schemes: Sequence[str] = ("https",)) -> tuple[str, int]:
        """(host, port) of `url` after checks that need no DNS; ValueError if it is not a URL of `schemes`."""
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"not an {'/'.join(schemes)} URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)  # .port raises ValueError when invalid
        self.check_host(parts.hostname)
        return parts.hostname, port

    async def check_resolved(self, host: str, port: int) -> list[Address]:
        """Every address `host` resolves to, each checked; BlockedTarget if any is refused."""
        self.check_host(host)
        name = host.strip("[]")
        try:
            infos = await asyncio.wait_for(
                asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM), self.resolve_timeout_s
            )
        except (OSError, TimeoutError) as exc:
            raise UnresolvableTarget(f"{host} does not resolve") from exc
        addresses = [_parse_address(str(info[4][0])) for info in infos]
        if not addresses:
            raise UnresolvableTarget(f"{host} does not resolve")
        for address in addresses:
            if not self.allows(address):
                raise BlockedTarget(f"{host} resolves to a non-public address")
        return addresses

    async def check_url_resolved(self, url: str, schemes: Sequence[str] = ("https",)) -> list[Address]:
        host, port = self.check_url(url, schemes)
        return await self.check_resolved(host, port)

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """A socket for one resolved address (aiohttp `TCPConnector(socket_factory=...)`), refused if blocked."""
        family, type_, proto, _, sockaddr = addr_info
        self.check_address(str(sockaddr[0]))
        sock = socket.socket(family=family, type=type_, proto=proto)
        sock.setblocking(False)
        return sock
