"""The platform as an attacker meets it: every core service in-process on real gRPC ports (fresh
databases, the test's NATS), the gateway app over an ASGI transport on the same event loop.

`start_platform()` returns a `Platform`; `platform.client("203.0.113.7")` is an HTTP client whose
TCP peer is that address (what uvicorn would put in the ASGI scope). Identity can be reached
through a `TcpRelay` (`identity_pausable=True`): `platform.identity_proxy.pause()` makes it
hang like a SIGSTOPped process, without stopping the service itself.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
import uvicorn
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_gateway.app import create_app
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from cityhub_gateway.stream import StreamHub
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_incidents.app import DEFINITION as INCIDENTS
from cityhub_notifications.app import DEFINITION as NOTIFICATIONS
from cityhub_sdk.app import RunningService, running
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.testing import eventually, free_port, service_settings
from cityhub_sdk.testing.plugin import DatabaseFactory
from cityhub_sdk.testing.relay import TcpRelay

INTERNAL_TOKEN = "security-internal-token"
PASSWORD = "correct horse battery staple"
CENTRE = (47.6062, -122.3321)


@dataclass
class Platform:
    services: dict[str, RunningService[Any]]
    settings: GatewaySettings
    app: Any
    identity_proxy: TcpRelay | None = None
    stack: AsyncExitStack | None = None
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def serve(self) -> str:
        """The same app served by uvicorn on a free loopback port (for streams and HTTP fuzzers)."""
        assert self.stack is not None
        server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=free_port(), log_level="warning", proxy_headers=False)
        )
        task = asyncio.create_task(server.serve())

        async def stop() -> None:
            server.should_exit = True
            await task

        self.stack.push_async_callback(stop)
        await eventually(lambda: server.started, 15)
        return f"http://127.0.0.1:{server.config.port}"

    def client(self, address: str = "198.51.100.10", **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client on the gateway whose TCP peer is `address`."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://gateway.test", **kwargs)
        self._clients.append(client)
        return client

    async def identity_stub(self) -> identity_pb2_grpc.IdentityServiceStub:
        channel = grpc.aio.insecure_channel(self.services["identity"].address)
        return identity_pb2_grpc.IdentityServiceStub(channel)

    async def create_person(self, role: int, department: str = "") -> tuple[str, str]:
        """(email, password) of a new staff or operator account."""
        email = f"p-{uuid.uuid4().hex[:10]}@lakeview.example"
        async with grpc.aio.insecure_channel(self.services["identity"].address) as channel:
            await identity_pb2_grpc.IdentityServiceStub(channel).CreateAccount(
                identity_pb2.CreateAccountRequest(email=email, password=PASSWORD, role=role, department=department),
                metadata=internal_metadata(INTERNAL_TOKEN),
            )
        return email, PASSWORD

    async def api_key(self, department: str) -> str:
        async with grpc.aio.insecure_channel(self.services["identity"].address) as channel:
            response = await identity_pb2_grpc.IdentityServiceStub(channel).CreateApiKey(
                identity_pb2.CreateApiKeyRequest(department=department, label="security tests"),
                metadata=internal_metadata(INTERNAL_TOKEN),
            )
        return str(response.key)


StartPlatform = Callable[..., Awaitable[Platform]]


def _optional_definition(package: str) -> Any:
    try:
        return importlib.import_module(f"{package}.app").DEFINITION
    except ImportError:
        return None


async def tokens(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def resident(client: httpx.AsyncClient, email: str | None = None) -> dict[str, str]:
    """Registers a new resident and returns bearer headers for them."""
    email = email or f"r-{uuid.uuid4().hex[:10]}@example.org"
    registered = await client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 202, registered.text
    return {"Authorization": f"Bearer {(await tokens(client, email))['access_token']}"}


async def person(platform: Platform, client: httpx.AsyncClient, role: int, department: str = "") -> dict[str, str]:
    email, password = await platform.create_person(role, department)
    return {"Authorization": f"Bearer {(await tokens(client, email, password))['access_token']}"}


def report_form(lat: float = CENTRE[0], lon: float = CENTRE[1], **extra: str) -> dict[str, Any]:
    """A pothole report as multipart parts (httpx `files=`)."""
    form = {
        "category": "pothole",
        "description": "Deep hole",
        "lat": str(lat),
        "lon": str(lon),
        "attributes": '{"size": "large"}',
        "force": "true",
        **extra,
    }
    return {name: (None, value) for name, value in form.items()}


@pytest.fixture
async def start_platform(
    database_factory: DatabaseFactory, clean_nats: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[StartPlatform]:
    """`await start_platform(identity_pausable=False, incidents={...}, identity={...}, **gateway_settings)`."""
    stack = AsyncExitStack()

    async def start(
        *,
        identity_pausable: bool = False,
        incidents: dict[str, Any] | None = None,
        notifications: dict[str, Any] | None = None,
        identity: dict[str, Any] | None = None,
        **gateway: Any,
    ) -> Platform:
        common = {"INTERNAL_API_TOKEN": INTERNAL_TOKEN, "AUTH_REVOCATION_TTL_S": 0}

        async def service(definition: Any, name: str, **env: Any) -> RunningService[Any]:
            url = database_factory.new(name)
            await upgrade_async(definition.migrations, url)
            settings = service_settings(definition.settings_type, database_url=url, nats_url=clean_nats, **env)
            return await stack.enter_async_context(running(definition, settings))

        identity_service = await service(
            IDENTITY,
            "identity",
            IDENTITY_KEY_ACTIVATION_DELAY_S=0,
            IDENTITY_KEY_CACHE_S=0,
            **common,
            **(identity or {}),
        )
        identity_addr = identity_service.address
        proxy = None
        if identity_pausable:
            host, port = identity_service.address.rsplit(":", 1)
            proxy = TcpRelay(host, int(port))
            await proxy.start()
            stack.push_async_callback(proxy.close)
            identity_addr = proxy.address
        catalog = await service(CATALOG, "catalog")
        await seed_catalog(catalog.db)
        photos = f"file://{tmp_path_factory.mktemp('photos')}"
        incidents_service = await service(
            INCIDENTS,
            "incidents",
            CATALOG_ADDR=catalog.address,
            IDENTITY_ADDR=identity_addr,
            PHOTO_STORAGE_URL=photos,
            **common,
            **(incidents or {}),
        )
        notifications_service = await service(
            NOTIFICATIONS,
            "notifications",
            IDENTITY_ADDR=identity_addr,
            DISPATCH_INTERVAL_S=0.1,
            **common,
            **(notifications or {}),
        )
        extra_peers: dict[str, str] = {}
        waittimes = _optional_definition("cityhub_waittimes")
        if waittimes is not None:  # the wait-times service, when this checkout has it
            started = await service(
                waittimes, "waittimes", CATALOG_ADDR=catalog.address, IDENTITY_ADDR=identity_addr, **common
            )
            extra_peers["WAITTIMES_ADDR"] = started.address
        values: dict[str, Any] = {
            **extra_peers,
            "CATALOG_ADDR": catalog.address,
            "IDENTITY_ADDR": identity_addr,
            "INCIDENTS_ADDR": incidents_service.address,
            "NOTIFICATIONS_ADDR": notifications_service.address,
            "NATS_URL": clean_nats,
            "JWKS_MIN_REFRESH_S": 0,
            "LOG_JSON": False,
            **common,
            **gateway,
        }
        settings = GatewaySettings(**values)
        clients = ServiceClients.connect(settings)
        stack.push_async_callback(clients.close)
        app = create_app(settings, clients)
        # The live-stream hub starts in the app's lifespan, which an ASGI transport does not run.
        hub = StreamHub()
        await hub.connect(clean_nats)
        stack.push_async_callback(hub.close)
        app.state.stream_hub = hub
        platform = Platform(
            services={
                "identity": identity_service,
                "catalog": catalog,
                "incidents": incidents_service,
                "notifications": notifications_service,
            },
            settings=settings,
            app=app,
            identity_proxy=proxy,
            stack=stack,
        )

        async def close_clients() -> None:
            for client in platform._clients:
                await client.aclose()

        stack.push_async_callback(close_clients)
        return platform

    try:
        yield start
    finally:
        await stack.aclose()
