"""Idempotent creates over gRPC: a retried CreateReport/PublishAlert with the same key returns the
first result and writes nothing more; the same key with another request is ALREADY_EXISTS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from cityhub.incidents.v1 import incidents_pb2, incidents_pb2_grpc
from cityhub_incidents.models import Alert, Report
from cityhub_sdk.tables import OutboxEvent
from google.protobuf.timestamp_pb2 import Timestamp
from sqlmodel import func, select

CENTRE = (47.6062, -122.3321)


def pothole(key: str, description: str = "Hole", **extra: Any) -> incidents_pb2.CreateReportRequest:
    return incidents_pb2.CreateReportRequest(
        category="pothole",
        description=description,
        lat=CENTRE[0],
        lon=CENTRE[1],
        attributes={"size": "small"},
        idempotency_key=key,
        **extra,
    )


async def count(service: Any, table: Any, subject: str = "") -> int:
    query = select(func.count()).select_from(table)
    if subject:
        query = query.where(OutboxEvent.subject == subject)
    async with service.db.session() as session:
        return int((await session.exec(query)).one())


async def test_retry_with_same_key_returns_the_same_report_without_a_second_write(
    stub: incidents_pb2_grpc.IncidentsServiceStub, incidents: Any, people: Any
) -> None:
    ann = await people.person()
    first = await stub.CreateReport(pothole("k-1"), metadata=ann.metadata)
    again = await stub.CreateReport(pothole("k-1"), metadata=ann.metadata)
    assert first.created and not first.replayed
    assert again.created and again.replayed and again.report.id == first.report.id and again.report.mine
    assert await count(incidents, Report) == 1
    assert await count(incidents, OutboxEvent, "cityhub.incidents.report.created") == 1
    assert await count(incidents, OutboxEvent, "cityhub.incidents.report.followed") == 1

    with pytest.raises(grpc.aio.AioRpcError) as changed:
        await stub.CreateReport(pothole("k-1", "Another hole"), metadata=ann.metadata)
    assert changed.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "idempotency key" in (changed.value.details() or "")

    # Keys are per caller: Bob's "k-1" is his own (forced past the duplicate check).
    bob = await people.person()
    other = await stub.CreateReport(pothole("k-1", force=True), metadata=bob.metadata)
    assert other.created and not other.replayed and other.report.id != first.report.id
    assert await count(incidents, Report) == 2

    # A duplicate answer (created=false) remembers nothing: the key is still free afterwards.
    dup = await stub.CreateReport(pothole("k-2"), metadata=ann.metadata)
    assert not dup.created and dup.duplicate_of.id in {first.report.id, other.report.id}
    forced = await stub.CreateReport(pothole("k-2", force=True), metadata=ann.metadata)
    assert forced.created and not forced.replayed


async def test_anonymous_keys_are_scoped_by_device_and_bad_keys_are_refused(
    stub: incidents_pb2_grpc.IncidentsServiceStub, incidents: Any
) -> None:
    def anonymous(device: str) -> incidents_pb2.CreateReportRequest:
        request = pothole("same-key", force=True)
        request.contact.device_id = device
        return request

    a1 = await stub.CreateReport(anonymous("device-a"))
    a2 = await stub.CreateReport(anonymous("device-a"))
    b1 = await stub.CreateReport(anonymous("device-b"))
    assert a2.replayed and a2.report.id == a1.report.id
    assert not b1.replayed and b1.report.id != a1.report.id
    assert await count(incidents, Report) == 2
    for bad in ("x" * 201, "tab\there", "clé"):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.CreateReport(pothole(bad))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await count(incidents, Report) == 2


async def test_publish_alert_retry_returns_the_same_alert_and_one_event(
    stub: incidents_pb2_grpc.IncidentsServiceStub, incidents: Any, people: Any
) -> None:
    roads = await people.person("staff", "roads")
    ends = Timestamp()
    ends.FromDatetime(datetime.now(UTC) + timedelta(hours=2))
    alert = incidents_pb2.AlertInput(
        kind="road_closure",
        severity="warning",
        center_lat=CENTRE[0],
        center_lon=CENTRE[1],
        radius_m=300,
        ends_at=ends,
        title={"en": "Main St closed"},
    )
    request = incidents_pb2.PublishAlertRequest(alert=alert, idempotency_key="alert-1")
    first = await stub.PublishAlert(request, metadata=roads.metadata)
    again = await stub.PublishAlert(request, metadata=roads.metadata)
    assert again.alert.id == first.alert.id
    assert await count(incidents, Alert) == 1
    assert await count(incidents, OutboxEvent, "cityhub.incidents.alert.published") == 1
    request.alert.severity = "urgent"
    with pytest.raises(grpc.aio.AioRpcError) as changed:
        await stub.PublishAlert(request, metadata=roads.metadata)
    assert changed.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert await count(incidents, Alert) == 1
