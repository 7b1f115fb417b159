"""The catalog behind the real identity service: department API keys and staff tokens issued by
identity, verified by the runtime's interceptor (IDENTITY_ADDR), drive registrations and edits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.config import CatalogSettings
from cityhub_catalog.seed import seed_catalog
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_sdk.app import RunningService, running
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.testing import service_settings
from cityhub_sdk.testing.plugin import DatabaseFactory

TOKEN = "catalog-test-internal-token"
AUTH_ENV = {"INTERNAL_API_TOKEN": TOKEN, "AUTH_REVOCATION_TTL_S": 0, "AUTH_API_KEY_TTL_S": 0}


@pytest.fixture
async def platform(
    database_factory: DatabaseFactory, clean_nats: str
) -> AsyncIterator[tuple[identity_pb2_grpc.IdentityServiceStub, catalog_pb2_grpc.CatalogServiceStub]]:
    identity_url, catalog_url = database_factory.new("identity"), database_factory.new("catalog")
    await upgrade_async(IDENTITY.migrations, identity_url)
    await upgrade_async(CATALOG.migrations, catalog_url)
    identity_settings = service_settings(
        IDENTITY.settings_type,
        database_url=identity_url,
        nats_url=clean_nats,
        IDENTITY_KEY_ACTIVATION_DELAY_S=0,
        IDENTITY_KEY_CACHE_S=0,
        **AUTH_ENV,
    )
    async with running(IDENTITY, identity_settings) as identity:
        settings = service_settings(
            CatalogSettings, database_url=catalog_url, nats_url=clean_nats, IDENTITY_ADDR=identity.address, **AUTH_ENV
        )
        catalog: RunningService[CatalogSettings]
        async with running(CATALOG, settings) as catalog:
            await seed_catalog(catalog.db)
            async with (
                grpc.aio.insecure_channel(identity.address) as identity_channel,
                grpc.aio.insecure_channel(catalog.address) as catalog_channel,
            ):
                yield (
                    identity_pb2_grpc.IdentityServiceStub(identity_channel),
                    catalog_pb2_grpc.CatalogServiceStub(catalog_channel),
                )


async def test_department_key_and_staff_token_from_identity(
    platform: tuple[identity_pb2_grpc.IdentityServiceStub, catalog_pb2_grpc.CatalogServiceStub],
) -> None:
    identity, catalog = platform
    internal = internal_metadata(TOKEN)
    key = (
        await identity.CreateApiKey(identity_pb2.CreateApiKeyRequest(department="roads", label="t"), metadata=internal)
    ).key
    registered = await catalog.RegisterDepartmentService(
        catalog_pb2.RegisterDepartmentServiceRequest(slug="pothole", address="127.0.0.1:50999"),
        metadata=(("x-api-key", key),),
    )
    assert registered.registration.department == "roads"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await catalog.RegisterDepartmentService(
            catalog_pb2.RegisterDepartmentServiceRequest(slug="library-card", address="127.0.0.1:50999"),
            metadata=(("x-api-key", key),),
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED

    password = "correct horse battery staple"
    await identity.CreateAccount(
        identity_pb2.CreateAccountRequest(
            email="roads.staff@lakeview.example", password=password, role=identity_pb2.ROLE_STAFF, department="roads"
        ),
        metadata=internal,
    )
    tokens = (
        await identity.CreateToken(
            identity_pb2.CreateTokenRequest(email="roads.staff@lakeview.example", password=password)
        )
    ).tokens
    bearer = (("authorization", f"Bearer {tokens.access_token}"),)
    updated = await catalog.UpdateService(
        catalog_pb2.UpdateServiceRequest(slug="pothole", report_radius_m=120), metadata=bearer
    )
    assert updated.changed and updated.service.report_radius_m == 120
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await catalog.UpdateService(
            catalog_pb2.UpdateServiceRequest(slug="library-card", report_radius_m=120), metadata=bearer
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
