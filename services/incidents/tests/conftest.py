"""Incidents under test: the real catalog (routing, boundary), the real identity (tokens, API keys)
and incidents itself, each in-process on a free port with its own fresh database, on one real NATS."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub.incidents.v1 import incidents_pb2_grpc
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_incidents.app import DEFINITION as INCIDENTS
from cityhub_sdk.app import RunningService, running
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.testing import service_settings
from cityhub_sdk.testing.plugin import DatabaseFactory

INTERNAL_TOKEN = "incidents-tests-internal-token"
CENTRE = (47.6062, -122.3321)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every incidents test runs on the session's loop, where catalog and identity keep running."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def catalog(database_factory: DatabaseFactory, nats_url: str) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    url = database_factory.new("catalog")
    await upgrade_async(CATALOG.migrations, url)
    settings = service_settings(
        CATALOG.settings_type, database_url=url, nats_url=nats_url, INTERNAL_API_TOKEN=INTERNAL_TOKEN
    )
    async with running(CATALOG, settings) as service:
        await seed_catalog(service.db)
        yield service


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def identity(
    database_factory: DatabaseFactory, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    url = database_factory.new("identity")
    await upgrade_async(IDENTITY.migrations, url)
    settings = service_settings(
        IDENTITY.settings_type,
        database_url=url,
        nats_url=nats_url,
        INTERNAL_API_TOKEN=INTERNAL_TOKEN,
        IDENTITY_KEY_ACTIVATION_DELAY_S=0,
        IDENTITY_SIGNING_KEYS_DIR=str(tmp_path_factory.mktemp("keys")),
        IDENTITY_PSEUDONYM_SECRET="tests-pseudonym-secret",
    )
    async with running(IDENTITY, settings) as service:
        yield service


@pytest_asyncio.fixture(loop_scope="session")
async def incidents(
    database_factory: DatabaseFactory,
    nats_url: str,
    catalog: RunningService,  # type: ignore[type-arg]
    identity: RunningService,  # type: ignore[type-arg]
    tmp_path: Path,
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    url = database_factory.new("incidents")
    await upgrade_async(INCIDENTS.migrations, url)
    settings = service_settings(
        INCIDENTS.settings_type,
        database_url=url,
        nats_url=nats_url,
        CATALOG_ADDR=catalog.address,
        IDENTITY_ADDR=identity.address,
        INTERNAL_API_TOKEN=INTERNAL_TOKEN,
        PHOTO_STORAGE_URL=f"file://{tmp_path / 'photos'}",
        ALERT_SWEEP_INTERVAL_S=0.2,
    )
    async with running(INCIDENTS, settings) as service:
        yield service


@pytest_asyncio.fixture(loop_scope="session")
async def stub(incidents: RunningService) -> AsyncIterator[incidents_pb2_grpc.IncidentsServiceStub]:  # type: ignore[type-arg]
    async with grpc.aio.insecure_channel(incidents.address) as channel:
        yield incidents_pb2_grpc.IncidentsServiceStub(channel)


@dataclass
class Person:
    account_id: str
    metadata: tuple[tuple[str, str], ...]


class People:
    """Creates real accounts and API keys in identity and signs them in."""

    def __init__(self, stub: identity_pb2_grpc.IdentityServiceStub) -> None:
        self.stub = stub
        self.internal = internal_metadata(INTERNAL_TOKEN)

    async def person(self, role: str = "resident", department: str = "") -> Person:
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        password = "correct horse battery staple 42"
        roles = {
            "resident": identity_pb2.ROLE_RESIDENT,
            "staff": identity_pb2.ROLE_STAFF,
            "operator": identity_pb2.ROLE_OPERATOR,
        }
        created = await self.stub.CreateAccount(
            identity_pb2.CreateAccountRequest(
                email=email, password=password, role=roles[role], department=department, display_name=role
            ),
            metadata=self.internal,
        )
        tokens = await self.stub.CreateToken(identity_pb2.CreateTokenRequest(email=email, password=password))
        return Person(created.account_id, (("authorization", f"Bearer {tokens.tokens.access_token}"),))

    async def api_key(self, department: str) -> tuple[tuple[str, str], ...]:
        response = await self.stub.CreateApiKey(
            identity_pb2.CreateApiKeyRequest(department=department, label="tests"), metadata=self.internal
        )
        return (("x-api-key", response.key),)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def people(identity: RunningService) -> AsyncIterator[People]:  # type: ignore[type-arg]
    async with grpc.aio.insecure_channel(identity.address) as channel:
        yield People(identity_pb2_grpc.IdentityServiceStub(channel))
