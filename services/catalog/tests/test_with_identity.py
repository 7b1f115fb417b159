"""The catalog behind the real identity service: department API keys and staff tokens issued by
identity, verified by the runtime's interceptor (IDENTITY_ADDR), drive registrations and edits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.testing import (
    FAST_AUTH_ENV,
    IDENTITY_TEST_ENV,
    TEST_INTERNAL_TOKEN,
    bearer,
    create_account,
    sign_in,
    start_service,
)
from cityhub_sdk.testing.plugin import DatabaseFactory

AUTH_ENV = {**FAST_AUTH_ENV, "AUTH_API_KEY_TTL_S": 0}


@pytest.fixture
async def platform(
    database_factory: DatabaseFactory, clean_nats: str
) -> AsyncIterator[tuple[identity_pb2_grpc.IdentityServiceStub, catalog_pb2_grpc.CatalogServiceStub]]:
    async with (
        start_service(IDENTITY, database_factory, clean_nats, **IDENTITY_TEST_ENV, **AUTH_ENV) as identity,
        start_service(
            CATALOG,
            database_factory,
            clean_nats,
            seed=lambda catalog: seed_catalog(catalog.db),
            IDENTITY_ADDR=identity.address,
            **AUTH_ENV,
        ) as catalog,
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
    internal = internal_metadata(TEST_INTERNAL_TOKEN)
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

    await create_account(identity, "roads.staff@lakeview.example", identity_pb2.ROLE_STAFF, department="roads")
    staff = bearer(await sign_in(identity, "roads.staff@lakeview.example"))
    updated = await catalog.UpdateService(
        catalog_pb2.UpdateServiceRequest(slug="pothole", report_radius_m=120), metadata=staff
    )
    assert updated.changed and updated.service.report_radius_m == 120
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await catalog.UpdateService(
            catalog_pb2.UpdateServiceRequest(slug="library-card", report_radius_m=120), metadata=staff
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
