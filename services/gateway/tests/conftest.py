"""The platform for gateway tests: every backend service running in-process on a free port,
each with its own fresh database, all on one real NATS server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_gateway.app import create_app
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
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


@pytest.fixture
def gateway_settings(catalog_service: RunningService) -> GatewaySettings:  # type: ignore[type-arg]
    return GatewaySettings(CATALOG_ADDR=catalog_service.address, LOG_JSON=False)  # type: ignore[call-arg]


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
