"""The platform for gateway tests: every backend service running in-process on a free port,
each with its own fresh database, all on one real NATS server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import uvicorn
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_gateway.app import create_app
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_incidents.app import DEFINITION as INCIDENTS
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import (
    FAST_AUTH_ENV,
    IDENTITY_TEST_ENV,
    TEST_INTERNAL_TOKEN,
    TEST_PASSWORD,
    eventually,
    free_port,
    start_service,
)
from cityhub_sdk.testing.plugin import DatabaseFactory


@pytest.fixture
async def catalog_service(database_factory: DatabaseFactory, clean_nats: str) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    async with start_service(CATALOG, database_factory, clean_nats, seed=lambda s: seed_catalog(s.db)) as service:
        yield service


@pytest.fixture
def internal_token() -> str:
    return TEST_INTERNAL_TOKEN


@pytest.fixture
async def identity_service(database_factory: DatabaseFactory, clean_nats: str) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    """Identity on a free port. Other services verify tokens through it: give them
    `IDENTITY_ADDR=identity_service.address` and `**FAST_AUTH_ENV` (from cityhub_sdk.testing)."""
    async with start_service(IDENTITY, database_factory, clean_nats, **IDENTITY_TEST_ENV, **FAST_AUTH_ENV) as service:
        yield service


@pytest.fixture
async def incidents_service(
    database_factory: DatabaseFactory,
    clean_nats: str,
    catalog_service: RunningService,  # type: ignore[type-arg]
    identity_service: RunningService,  # type: ignore[type-arg]
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    """Incidents on a free port: categories and boundary from catalog_service, callers through identity."""
    async with start_service(
        INCIDENTS,
        database_factory,
        clean_nats,
        CATALOG_ADDR=catalog_service.address,
        IDENTITY_ADDR=identity_service.address,
        PHOTO_STORAGE_URL=f"file://{tmp_path_factory.mktemp('photos')}",
        **FAST_AUTH_ENV,
    ) as service:
        yield service


@pytest.fixture
async def notifications_service(
    database_factory: DatabaseFactory,
    clean_nats: str,
    identity_service: RunningService,  # type: ignore[type-arg]
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    """Notifications on a free port (contacts and places from identity_service; no SMTP)."""
    from cityhub_notifications.app import DEFINITION as NOTIFICATIONS

    async with start_service(
        NOTIFICATIONS,
        database_factory,
        clean_nats,
        IDENTITY_ADDR=identity_service.address,
        DISPATCH_INTERVAL_S=0.1,
        **FAST_AUTH_ENV,
    ) as service:
        yield service


@pytest.fixture
async def waittimes_service(
    database_factory: DatabaseFactory,
    clean_nats: str,
    catalog_service: RunningService,  # type: ignore[type-arg]
    identity_service: RunningService,  # type: ignore[type-arg]
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    """Waittimes on a free port: centres and queues from catalog_service, callers through identity."""
    from cityhub_waittimes.app import DEFINITION as WAITTIMES

    async with start_service(
        WAITTIMES,
        database_factory,
        clean_nats,
        CATALOG_ADDR=catalog_service.address,
        IDENTITY_ADDR=identity_service.address,
        CHECKIN_SWEEP_INTERVAL_S=0.2,
        **FAST_AUTH_ENV,
    ) as service:
        yield service


def settings_for(**peers: str) -> GatewaySettings:
    """Gateway settings for services running in this test (peer addresses as `CATALOG_ADDR=...`)."""
    return GatewaySettings(  # type: ignore[call-arg]
        **peers,
        JWKS_MIN_REFRESH_S=0,
        **FAST_AUTH_ENV,
        AUTH_RATE_LIMIT_PER_MINUTE=10_000,
        LOG_JSON=False,
    )


@pytest.fixture
def gateway_settings(
    catalog_service: RunningService,  # type: ignore[type-arg]
    identity_service: RunningService,  # type: ignore[type-arg]
    incidents_service: RunningService,  # type: ignore[type-arg]
) -> GatewaySettings:
    return settings_for(
        CATALOG_ADDR=catalog_service.address,
        IDENTITY_ADDR=identity_service.address,
        INCIDENTS_ADDR=incidents_service.address,
    )


@pytest.fixture
def full_gateway_settings(
    catalog_service: RunningService,  # type: ignore[type-arg]
    identity_service: RunningService,  # type: ignore[type-arg]
    incidents_service: RunningService,  # type: ignore[type-arg]
    notifications_service: RunningService,  # type: ignore[type-arg]
    clean_nats: str,
) -> GatewaySettings:
    """Every backend service plus NATS (live streams): for tests that cross notifications."""
    return settings_for(
        CATALOG_ADDR=catalog_service.address,
        IDENTITY_ADDR=identity_service.address,
        INCIDENTS_ADDR=incidents_service.address,
        NOTIFICATIONS_ADDR=notifications_service.address,
        NATS_URL=clean_nats,
    )


SignIn = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def sign_in(api: httpx.AsyncClient) -> SignIn:
    """`headers = await sign_in("ann@example.org")`: registers (idempotent) and signs in through the
    public API, returning `{"Authorization": "Bearer <access token>"}` for that resident."""

    async def _sign_in(email: str, password: str = TEST_PASSWORD, **profile: str) -> dict[str, str]:
        registered = await api.post("/v1/auth/register", json={"email": email, "password": password, **profile})
        assert registered.status_code == 202, registered.text
        response = await api.post("/v1/auth/token", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return _sign_in


@pytest.fixture
async def api(gateway_settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    # One event loop for the services, the stubs and the app: an ASGI transport on this loop
    # (Litestar's test client would run the app on a portal thread, where grpc.aio cannot follow).
    clients = ServiceClients.connect(gateway_settings)
    transport = httpx.ASGITransport(app=create_app(gateway_settings, clients))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client
    finally:
        await clients.close()


@pytest.fixture
async def http(gateway_settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway served by uvicorn on a free loopback port, on this test's event loop: its
    lifespan runs (clients, live stream, wait-times projection) and Server-Sent Events stream."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(gateway_settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, 15)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await task
