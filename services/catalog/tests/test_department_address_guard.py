"""SSRF (issue 17): the catalog dials the address a department registers, for health checks, so the
SDK's outbound guard applies: a loopback/private address is never dialled unless
OUTBOUND_ALLOWED_NETWORKS allows it (test_updates_and_registrations.py allows 127.0.0.1/32 and
sees SERVING from the same kind of server)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import grpc
import pytest
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_catalog.app import DEFINITION, setup
from cityhub_catalog.config import CatalogSettings
from cityhub_catalog.seed import seed_catalog
from cityhub_sdk.app import RunningService, ServiceContext, ServiceParts
from cityhub_sdk.grpc_server import GrpcServer
from cityhub_sdk.testing import eventually, start_service
from cityhub_sdk.testing.plugin import DatabaseFactory

from .conftest import Authority


@pytest.fixture
async def guarded_stub(
    database_factory: DatabaseFactory, clean_nats: str, auth: Authority
) -> AsyncIterator[catalog_pb2_grpc.CatalogServiceStub]:
    async def setup_with_auth(context: ServiceContext[CatalogSettings]) -> ServiceParts:
        return dataclasses.replace(await setup(context), auth=auth.interceptor())

    async def seed(service: RunningService[CatalogSettings]) -> None:
        await seed_catalog(service.db)

    definition = dataclasses.replace(DEFINITION, setup=setup_with_auth)
    async with (
        start_service(
            definition, database_factory, clean_nats, seed=seed, REGISTRATION_CHECK_INTERVAL_S=0.2
        ) as service,
        grpc.aio.insecure_channel(service.address) as channel,
    ):
        yield catalog_pb2_grpc.CatalogServiceStub(channel)


async def test_a_department_address_on_loopback_is_never_dialled(
    guarded_stub: catalog_pb2_grpc.CatalogServiceStub, auth: Authority
) -> None:
    department = GrpcServer(
        host="127.0.0.1", port=0, service_names=["cityhub.department.v1.DepartmentService"], registrations=[]
    )
    await department.start()
    try:
        await guarded_stub.RegisterDepartmentService(
            catalog_pb2.RegisterDepartmentServiceRequest(slug="pothole", address=department.address),
            metadata=(("x-api-key", auth.department_key("roads")),),
        )

        async def health() -> str:
            listed = await guarded_stub.ListDepartmentServices(
                catalog_pb2.ListDepartmentServicesRequest(), metadata=auth.bearer("operator")
            )
            return {r.slug: r.health for r in listed.registrations}.get("pothole", "")

        async def checked() -> bool:
            return await health() not in ("", "UNKNOWN")

        await eventually(checked, timeout_s=15)
        assert await health() == "NOT_SERVING"  # the server is SERVING: it was refused, not asked
    finally:
        await department.stop(0)
