"""The platform for gateway tests: every backend service running in-process on a free port,
each with its own fresh database, all on one real NATS server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_gateway.app import create_app
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_incidents.app import DEFINITION as INCIDENTS
from cityhub_sdk.app import RunningService, running
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.testing import service_settings
from cityhub_sdk.testing.plugin import DatabaseFactory


@pytest.fixture
async def catalog_service(database_factory: DatabaseFactory, clean_nats: str) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    url = database_factory.new("catalog")
    await upgrade_async(CATALOG.migrations, url)
    settings = service_settings(CATALOG.settings_type, database_url=url, nats_url=clean_nats)
    async with running(CATALOG, settings) as service:
        await seed_catalog(service.db)
        yield service


# The platform's service-to-service token in tests; pass it as INTERNAL_API_TOKEN to your service.
INTERNAL_TOKEN = "test-internal-token"
# Verification settings for in-process services: see revocations and new keys at once.
AUTH_TEST_ENV = {"INTERNAL_API_TOKEN": INTERNAL_TOKEN, "AUTH_REVOCATION_TTL_S": 0}
DEMO_PASSWORD = "correct horse battery staple"


@pytest.fixture
def internal_token() -> str:
    return INTERNAL_TOKEN


@pytest.fixture
async def identity_service(database_factory: DatabaseFactory, clean_nats: str) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    """Identity on a free port. Other services verify tokens through it: give them
    `IDENTITY_ADDR=identity_service.address` and `**AUTH_TEST_ENV` (or INTERNAL_API_TOKEN=internal_token)."""
    url = database_factory.new("identity")
    await upgrade_async(IDENTITY.migrations, url)
    settings = service_settings(
        IDENTITY.settings_type,
        database_url=url,
        nats_url=clean_nats,
        IDENTITY_KEY_ACTIVATION_DELAY_S=0,
        IDENTITY_KEY_CACHE_S=0,
        **AUTH_TEST_ENV,
    )
    async with running(IDENTITY, settings) as service:
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
    url = database_factory.new("incidents")
    await upgrade_async(INCIDENTS.migrations, url)
    settings = service_settings(
        INCIDENTS.settings_type,
        database_url=url,
        nats_url=clean_nats,
        CATALOG_ADDR=catalog_service.address,
        IDENTITY_ADDR=identity_service.address,
        PHOTO_STORAGE_URL=f"file://{tmp_path_factory.mktemp('photos')}",
        **AUTH_TEST_ENV,
    )
    async with running(INCIDENTS, settings) as service:
        yield service


@pytest.fixture
async def notifications_service(
    database_factory: DatabaseFactory,
    clean_nats: str,
    identity_service: RunningService,  # type: ignore[type-arg]
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    """Notifications on a free port (contacts and places from identity_service; no SMTP)."""
    from cityhub_notifications.app import DEFINITION as NOTIFICATIONS

    url = database_factory.new("notifications")
    await upgrade_async(NOTIFICATIONS.migrations, url)
    settings = service_settings(
        NOTIFICATIONS.settings_type,
        database_url=url,
        nats_url=clean_nats,
        IDENTITY_ADDR=identity_service.address,
        DISPATCH_INTERVAL_S=0.1,
        **AUTH_TEST_ENV,
    )
    async with running(NOTIFICATIONS, settings) as service:
        yield service


def settings_for(**peers: str) -> GatewaySettings:
    """Gateway settings for services running in this test (peer addresses as `CATALOG_ADDR=...`)."""
    return GatewaySettings(  # type: ignore[call-arg]
        **peers,
        INTERNAL_API_TOKEN=INTERNAL_TOKEN,
        JWKS_MIN_REFRESH_S=0,
        AUTH_REVOCATION_TTL_S=0,
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

    async def _sign_in(email: str, password: str = DEMO_PASSWORD, **profile: str) -> dict[str, str]:
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
