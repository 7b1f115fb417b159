"""The client's address, as far as it can be trusted.

The TCP peer is the client unless it is one of `TRUSTED_PROXIES` (networks, e.g. the ingress
controller's pod range `10.0.0.0/8`). Only then is `X-Forwarded-For` read, right to left, skipping
further trusted hops: the first address that is not a trusted proxy is the client. An address a
client wrote into the header itself sits left of that and is never used. The default trusts no
proxy, so a gateway reached directly cannot be fooled by the header; behind a load balancer, set
`TRUSTED_PROXIES` to its networks or every client shares the load balancer's address (and quota).
uvicorn is started with `proxy_headers=False` so that this is the only place the header is read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from litestar.connection import ASGIConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"
# gRPC metadata carrying the client address to services that count it (incidents' report quota).
CLIENT_ADDRESS_KEY = "x-cityhub-client-address"


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """`["10.0.0.0/8", "127.0.0.1"]` -> networks (empty entries skipped); a bad entry stops the gateway at start-up."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip())


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def resolve(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client address for a TCP `peer` and the request's X-Forwarded-For header values."""
    if not peer:
        return UNKNOWN
    current = _address(peer)
    if not _trusted(current, trusted):
        return str(current) if current is not None else peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return str(current)  # garbage written by someone: the last trusted hop is all we know
        current = address
        if not _trusted(address, trusted):
            return str(address)
    return str(current)


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The address quotas count against, from the gateway's `TRUSTED_PROXIES` setting."""
    cached = connection.scope.get("state", {}).get("client_address")
    if isinstance(cached, str):
        return cached
    settings = connection.app.state.settings
    networks = getattr(connection.app.state, "trusted_proxies", None)
    if networks is None:
        networks = parse_networks(settings.trusted_proxies.split(","))
        connection.app.state.trusted_proxies = networks
    peer = connection.scope.get("client")
    forwarded = [
        value.decode("latin-1") for name, value in connection.scope.get("headers", ()) if name == b"x-forwarded-for"
    ]
    address = resolve(peer[0] if peer else None, forwarded, networks)
    connection.scope.setdefault("state", {})["client_address"] = address
    return address
