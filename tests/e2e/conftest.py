"""A platform served over real HTTP for clients that cannot use an ASGI transport (e.g. `requests`).

`serve_platform` starts the given services in-process (real gRPC on free ports, a fresh database
each, the test's NATS), in order, giving each the addresses of those before it (`<NAME>_ADDR`) and
the internal token; then it serves the gateway with uvicorn on a free loopback port in a
background thread (its own event loop, its own gRPC channels, like `make run`'s gateway).

The services run on the test's event loop, so a test must not block that loop while the gateway
calls them: run synchronous HTTP clients through `await asyncio.to_thread(...)`.

    platform = await serve_platform({"identity": ServiceSpec(IDENTITY), "catalog": ServiceSpec(CATALOG, seed=...)})
    GeoReport(platform.gateway_url + "/open311/v2").get_service_list()  # inside asyncio.to_thread
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from cityhub_gateway.app import create_app
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.app import RunningService, ServiceDefinition, running
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.testing import free_port, service_settings
from cityhub_sdk.testing.plugin import DatabaseFactory

INTERNAL_TOKEN = "e2e-internal-token"
UNSTARTED_PEER = "127.0.0.1:9"  # the discard port: calls fail fast with UNAVAILABLE


@dataclass(frozen=True)
class ServiceSpec:
    """One service to start: its definition, an optional seed step and extra settings."""

    definition: ServiceDefinition[Any]
    seed: Callable[[RunningService[Any]], Awaitable[Any]] | None = None
    env: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Platform:
    services: Mapping[str, RunningService[Any]]
    gateway_url: str


class GatewayServer:
    """uvicorn serving the gateway app in a thread, started and stopped synchronously."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="e2e-gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    def start(self, timeout_s: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


StartPlatform = Callable[..., Awaitable[Platform]]


def required_peers() -> list[str]:
    """Peer names whose `<NAME>_ADDR` the gateway cannot start without."""
    names = []
    for info in GatewaySettings.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, str) and alias.endswith("_ADDR") and info.is_required():
            names.append(alias.removesuffix("_ADDR").lower())
    return names


def with_required_peers(specs: Mapping[str, ServiceSpec]) -> dict[str, ServiceSpec]:
    """`specs` plus a default spec for every missing required peer; identity goes first."""
    missing = [name for name in required_peers() if name not in specs]
    ordered: dict[str, ServiceSpec] = {}
    for name in ["identity", *specs, *missing]:
        if name in ordered or (name not in specs and name not in missing):
            continue
        if name in specs:
            ordered[name] = specs[name]
        else:
            module = importlib.import_module(f"cityhub_{name}.app")
            ordered[name] = ServiceSpec(module.DEFINITION)
    return ordered


@pytest.fixture
async def serve_platform(database_factory: DatabaseFactory, clean_nats: str) -> AsyncIterator[StartPlatform]:
    """`await serve_platform({name: ServiceSpec, ...}, **gateway_env)` -> Platform; all stopped afterwards."""
    stack = AsyncExitStack()
    gateways: list[GatewayServer] = []

    async def start(specs: Mapping[str, ServiceSpec], **gateway_env: Any) -> Platform:
        common = {"INTERNAL_API_TOKEN": INTERNAL_TOKEN, "AUTH_REVOCATION_TTL_S": 0}
        addresses: dict[str, str] = {}
        services: dict[str, RunningService[Any]] = {}
        for name, spec in with_required_peers(specs).items():
            url = database_factory.new(name)
            await upgrade_async(spec.definition.migrations, url)
            peers = {f"{peer.upper()}_ADDR": address for peer, address in addresses.items()}
            settings = service_settings(
                spec.definition.settings_type, database_url=url, nats_url=clean_nats, **common, **peers, **spec.env
            )
            service = await stack.enter_async_context(running(spec.definition, settings))
            if spec.seed is not None:
                await spec.seed(service)
            services[name] = service
            addresses[name] = service.address
        values: dict[str, Any] = {
            **{f"{name.upper()}_ADDR": address for name, address in addresses.items()},
            "INTERNAL_API_TOKEN": INTERNAL_TOKEN,
            "HTTP_PORT": free_port(),
            "LOG_JSON": False,
            **gateway_env,
        }
        # Peers the test did not start get an address nobody listens on: their routes answer 503.
        for peer in (name for name in GatewaySettings.model_fields if name.endswith("_addr")):
            values.setdefault(peer.upper(), UNSTARTED_PEER)
        gateway = GatewayServer(GatewaySettings(**values))
        await asyncio.to_thread(gateway.start)
        gateways.append(gateway)
        return Platform(services=services, gateway_url=gateway.url)

    try:
        yield start
    finally:
        for gateway in gateways:
            await asyncio.to_thread(gateway.stop)
        await stack.aclose()
