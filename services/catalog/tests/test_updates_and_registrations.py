"""Writes: UpdateService (roles, validation, service.updated through the outbox), idempotent seeding,
and department registrations with periodic grpc.health.v1 checks of a real department server."""

from __future__ import annotations

import grpc
import nats
import pytest
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc, events_pb2
from cityhub_catalog.config import CatalogSettings
from cityhub_catalog.seed import seed_catalog
from cityhub_sdk.app import RunningService
from cityhub_sdk.grpc_server import GrpcServer
from cityhub_sdk.tables import OutboxEvent
from cityhub_sdk.testing import eventually
from grpc_health.v1 import health_pb2
from sqlmodel import col, select

from .conftest import Authority

Stub = catalog_pb2_grpc.CatalogServiceStub
SUBJECT = "cityhub.catalog.service.updated"
REVISION_SUBJECT = "cityhub.catalog.revision.changed"


async def _outbox_subjects(service: RunningService[CatalogSettings]) -> list[str]:
    async with service.db.session() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.created_at)))).all()
    return [r.subject for r in rows]


async def test_seeding_is_idempotent_and_announces_changes(catalog: RunningService[CatalogSettings]) -> None:
    first = await _outbox_subjects(catalog)
    assert len(first) >= 30 and set(first) == {SUBJECT, REVISION_SUBJECT}  # every service was new
    assert first.count(REVISION_SUBJECT) == 1
    again = await seed_catalog(catalog.db)
    assert again.changed_services == []
    # No service changed; the revision moves on every seed (departments, centres and the city carry no version).
    assert sorted(await _outbox_subjects(catalog)) == sorted([*first, REVISION_SUBJECT])


async def test_update_requires_staff_or_operator(auth_stub: Stub, auth: Authority) -> None:
    request = catalog_pb2.UpdateServiceRequest(slug="pothole", summary={"en": "Changed"})
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await auth_stub.UpdateService(request)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    for metadata in (auth.bearer("resident"), auth.bearer("staff", department="health")):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await auth_stub.UpdateService(request, metadata=metadata)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await auth_stub.UpdateService(request, metadata=(("authorization", "Bearer forged"),))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_invalid_updates_write_nothing(
    auth_stub: Stub, auth: Authority, catalog_auth: RunningService[CatalogSettings]
) -> None:
    before = await _outbox_subjects(catalog_auth)
    invalid = (
        catalog_pb2.UpdateServiceRequest(slug="pothole", name={"en": ""}),
        catalog_pb2.UpdateServiceRequest(slug="pothole", name={"xx": "What"}),
        catalog_pb2.UpdateServiceRequest(slug="pothole", summary={"en": "x" * 2001}),
        catalog_pb2.UpdateServiceRequest(slug="pothole", report_radius_m=5),
        catalog_pb2.UpdateServiceRequest(slug="pothole", channels=["pigeon"]),
    )
    for request in invalid:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await auth_stub.UpdateService(request, metadata=auth.bearer("operator"))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await auth_stub.UpdateService(
            catalog_pb2.UpdateServiceRequest(slug="nope", summary={"en": "x"}), metadata=auth.bearer("operator")
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert await _outbox_subjects(catalog_auth) == before


async def test_staff_update_publishes_service_updated(
    auth_stub: Stub, auth: Authority, catalog_auth: RunningService[CatalogSettings]
) -> None:
    before = (await auth_stub.GetService(catalog_pb2.GetServiceRequest(slug="pothole"))).service
    connection = await nats.connect(catalog_auth.settings.nats_url)
    try:
        js = connection.jetstream()
        response = await auth_stub.UpdateService(
            catalog_pb2.UpdateServiceRequest(slug="pothole", summary={"vi": "Báo ổ gà."}, report_radius_m=150),
            metadata=auth.bearer("staff", department="roads"),
        )
        assert response.changed and response.service.version != before.version
        assert response.service.report_radius_m == 150

        async def published() -> bool:
            try:
                message = await js.get_last_msg("CATALOG", SUBJECT)
            except nats.js.errors.NotFoundError:
                return False
            event = events_pb2.ServiceUpdated.FromString(message.data or b"")
            return event.slug == "pothole" and event.version == response.service.version

        await eventually(published, timeout_s=10)
        message = await js.get_last_msg("CATALOG", SUBJECT)
        assert (message.headers or {})["ce-type"] == SUBJECT
        event = events_pb2.ServiceUpdated.FromString(message.data or b"")
        assert event.report_radius_m == 150 and event.takes_reports and event.department == "roads"
    finally:
        await connection.close()

    # Readers see the change at once (the snapshot follows the revision); the same edit again is a no-op.
    after = (await auth_stub.GetService(catalog_pb2.GetServiceRequest(slug="pothole", lang="vi"))).service
    assert after.summary == "Báo ổ gà." and after.version == response.service.version
    subjects = await _outbox_subjects(catalog_auth)
    same = await auth_stub.UpdateService(
        catalog_pb2.UpdateServiceRequest(slug="pothole", summary={"vi": "Báo ổ gà."}), metadata=auth.bearer("operator")
    )
    assert not same.changed and await _outbox_subjects(catalog_auth) == subjects


async def test_search_follows_updates(auth_stub: Stub, auth: Authority) -> None:
    await auth_stub.UpdateService(
        catalog_pb2.UpdateServiceRequest(slug="graffiti", name={"en": "Graffiti and zorblax removal"}),
        metadata=auth.bearer("operator"),
    )
    hits = await auth_stub.ListServices(catalog_pb2.ListServicesRequest(query="zorblax"))
    assert [s.slug for s in hits.services][:1] == ["graffiti"]


async def test_department_registration_and_health_checks(auth_stub: Stub, auth: Authority) -> None:
    key = auth.department_key("roads")
    department = GrpcServer(
        host="127.0.0.1", port=0, service_names=["cityhub.department.v1.DepartmentService"], registrations=[]
    )
    await department.start()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await auth_stub.RegisterDepartmentService(
                catalog_pb2.RegisterDepartmentServiceRequest(slug="pothole", address=department.address)
            )
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await auth_stub.RegisterDepartmentService(
                catalog_pb2.RegisterDepartmentServiceRequest(slug="pothole", address=department.address),
                metadata=(("x-api-key", "wrong"),),
            )
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        for slug, address, code in (
            ("library-card", department.address, grpc.StatusCode.PERMISSION_DENIED),  # another department's
            ("no-such-service", department.address, grpc.StatusCode.NOT_FOUND),
            ("pothole", "not an address", grpc.StatusCode.INVALID_ARGUMENT),
            ("pothole", "host:99999", grpc.StatusCode.INVALID_ARGUMENT),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await auth_stub.RegisterDepartmentService(
                    catalog_pb2.RegisterDepartmentServiceRequest(slug=slug, address=address),
                    metadata=(("x-api-key", key),),
                )
            assert info.value.code() == code, (slug, address)

        registered = await auth_stub.RegisterDepartmentService(
            catalog_pb2.RegisterDepartmentServiceRequest(slug="pothole", address=department.address),
            metadata=(("x-api-key", key),),
        )
        assert registered.registration.department == "roads" and registered.registration.health == "UNKNOWN"

        operator = auth.bearer("operator")

        async def health() -> str:
            listed = await auth_stub.ListDepartmentServices(
                catalog_pb2.ListDepartmentServicesRequest(), metadata=operator
            )
            return {r.slug: r.health for r in listed.registrations}.get("pothole", "")

        async def serving() -> bool:
            return await health() == "SERVING"

        await eventually(serving, timeout_s=10)
        await department.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)

        async def not_serving() -> bool:
            return await health() == "NOT_SERVING"

        await eventually(not_serving, timeout_s=10)

        own = await auth_stub.ListDepartmentServices(
            catalog_pb2.ListDepartmentServicesRequest(), metadata=(("x-api-key", key),)
        )
        assert [r.slug for r in own.registrations] == ["pothole"] and own.registrations[0].checked_at.seconds > 0
        other = await auth_stub.ListDepartmentServices(
            catalog_pb2.ListDepartmentServicesRequest(), metadata=auth.bearer("staff", department="health")
        )
        assert list(other.registrations) == []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await auth_stub.ListDepartmentServices(
                catalog_pb2.ListDepartmentServicesRequest(), metadata=auth.bearer("resident")
            )
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await department.stop(0)

    async def down() -> bool:
        listed = await auth_stub.ListDepartmentServices(catalog_pb2.ListDepartmentServicesRequest(), metadata=operator)
        return listed.registrations[0].health == "NOT_SERVING"

    await eventually(down, timeout_s=10)
