"""Photos (acceptance 3: not-an-image refused, EXIF GPS stripped), alerts, erasure and export."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import grpc
import nats
import pytest
from cityhub.identity.v1 import events_pb2 as identity_events
from cityhub.incidents.v1 import events_pb2, incidents_pb2
from cityhub_sdk.events import from_message, new_event, to_headers
from cityhub_sdk.tables import OutboxEvent
from cityhub_sdk.testing import eventually
from google.protobuf.timestamp_pb2 import Timestamp
from PIL import Image
from sqlmodel import select

CENTRE = (47.6062, -122.3321)


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (47.0, 36.0, 22.0), "W", (122.0, 19.0, 55.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def report(photo: bytes) -> incidents_pb2.CreateReportRequest:
    return incidents_pb2.CreateReportRequest(
        category="pothole", description="Hole", lat=CENTRE[0], lon=CENTRE[1], attributes={"size": "small"}, photo=photo
    )


async def test_acceptance_3_photos_are_decoded_and_stored_without_exif(stub, incidents) -> None:  # type: ignore[no-untyped-def]
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    for not_an_image in (
        b"GIF89a....",
        b"\xff\xd8\xff\xe0 truncated jpeg",
        b"<svg></svg>",
        b"x" * (5 * 1024 * 1024 + 1),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.CreateReport(report(not_an_image))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    created = (await stub.CreateReport(report(original))).report
    assert created.has_photo
    photo = await stub.GetReportPhoto(incidents_pb2.GetReportPhotoRequest(report_id=created.id))
    assert photo.content_type == "image/jpeg"
    stored = Image.open(io.BytesIO(photo.data))
    assert stored.format == "JPEG" and stored.size == (64, 48)
    assert not stored.getexif() and b"PhoneMaker" not in photo.data and b"Exif" not in photo.data


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


async def test_alerts_by_area_lifecycle_events_and_department_limits(stub, incidents, people) -> None:  # type: ignore[no-untyped-def]
    roads, waste = await people.person("staff", "roads"), await people.person("staff", "waste")
    resident = await people.person()
    now = datetime.now(UTC)
    circle = incidents_pb2.AlertInput(
        kind="road_closure",
        severity="warning",
        center_lat=CENTRE[0],
        center_lon=CENTRE[1],
        radius_m=500,
        ends_at=stamp(now + timedelta(hours=2)),
        title={"en": "Main St closed", "vi": "Đường Main đóng"},
        body={"en": "Detour via Pine St"},
    )
    published = (
        await stub.PublishAlert(incidents_pb2.PublishAlertRequest(alert=circle), metadata=roads.metadata)
    ).alert
    assert published.department == "roads" and published.state == "active"
    polygon = incidents_pb2.AlertInput(
        kind="water",
        severity="urgent",
        ends_at=stamp(now + timedelta(days=1)),
        title={"en": "Boil water"},
        polygon=[
            events_pb2.LatLon(lat=a, lon=b)
            for a, b in ((47.55, -122.36), (47.58, -122.36), (47.58, -122.30), (47.55, -122.30))
        ],
    )
    water = (await stub.PublishAlert(incidents_pb2.PublishAlertRequest(alert=polygon), metadata=waste.metadata)).alert
    for forbidden in (resident,):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.PublishAlert(incidents_pb2.PublishAlertRequest(alert=circle), metadata=forbidden.metadata)
        assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
    bad = incidents_pb2.AlertInput(
        kind="meteor",
        severity="warning",
        center_lat=CENTRE[0],
        center_lon=CENTRE[1],
        radius_m=100,
        ends_at=stamp(now + timedelta(hours=1)),
        title={"en": "x"},
    )
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await stub.PublishAlert(incidents_pb2.PublishAlertRequest(alert=bad), metadata=roads.metadata)
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def here(lat: float, lon: float) -> list[str]:
        found = await stub.ListAlerts(incidents_pb2.ListAlertsRequest(near=True, lat=lat, lon=lon))
        return [a.id for a in found.alerts]

    assert await here(*CENTRE) == [published.id]
    assert await here(47.565, -122.33) == [water.id]
    assert await here(47.69, -122.30) == []
    with pytest.raises(grpc.aio.AioRpcError) as other_department:
        await stub.EndAlert(incidents_pb2.EndAlertRequest(alert_id=published.id), metadata=waste.metadata)
    assert other_department.value.code() == grpc.StatusCode.PERMISSION_DENIED
    circle.severity = "urgent"
    updated = await stub.UpdateAlert(
        incidents_pb2.UpdateAlertRequest(alert_id=published.id, alert=circle), metadata=roads.metadata
    )
    assert updated.alert.severity == "urgent"
    await stub.EndAlert(incidents_pb2.EndAlertRequest(alert_id=published.id), metadata=roads.metadata)
    assert await here(*CENTRE) == []

    short = incidents_pb2.AlertInput(
        kind="event",
        severity="info",
        center_lat=CENTRE[0],
        center_lon=CENTRE[1],
        radius_m=100,
        ends_at=stamp(datetime.now(UTC) + timedelta(seconds=1)),
        title={"en": "Short"},
    )
    brief = (await stub.PublishAlert(incidents_pb2.PublishAlertRequest(alert=short), metadata=roads.metadata)).alert
    assert brief.id in await here(*CENTRE)

    async def ended() -> list[str]:
        async with incidents.db.session() as session:
            rows = (
                await session.exec(select(OutboxEvent).where(OutboxEvent.subject == "cityhub.incidents.alert.ended"))
            ).all()
        return [
            from_message(r.subject, r.payload, {"ce-id": r.id, "ce-time": r.created_at.isoformat()})
            .decode(events_pb2.AlertEnded)
            .alert_id
            for r in rows
        ]

    await eventually(lambda: _contains(ended, brief.id), timeout_s=10)
    assert await here(*CENTRE) == []
    assert published.id in await ended()
    async with incidents.db.session() as session:
        subjects = [r.subject for r in (await session.exec(select(OutboxEvent))).all()]
    assert subjects.count("cityhub.incidents.alert.published") == 3 and "cityhub.incidents.alert.updated" in subjects
    async with incidents.db.session() as session:
        row = (
            await session.exec(select(OutboxEvent).where(OutboxEvent.subject == "cityhub.incidents.alert.published"))
        ).first()
    message = from_message(row.subject, row.payload, {"ce-id": row.id, "ce-time": row.created_at.isoformat()}).decode(
        events_pb2.AlertPublished
    )
    assert message.alert.h3_cells_r7 and message.alert.title["en"]


async def _contains(source, item) -> bool:  # type: ignore[no-untyped-def]
    return item in await source()


async def test_account_deletion_anonymises_reports_drops_follows_and_confirms(
    stub, incidents, people, nats_url
) -> None:  # type: ignore[no-untyped-def]
    a = await people.person()
    request = report(b"")
    request.contact.CopyFrom(incidents_pb2.ReporterContact(name="Ann", email="ann@example.org"))
    filed = (await stub.CreateReport(request, metadata=a.metadata)).report
    exported = json.loads(
        (await stub.ExportAccountData(incidents_pb2.ExportAccountDataRequest(), metadata=a.metadata)).json
    )
    assert exported["reports"][0]["id"] == filed.id and exported["reports"][0]["contact"]["email"] == "ann@example.org"
    assert exported["follows"][0]["report_id"] == filed.id
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.ExportAccountData(incidents_pb2.ExportAccountDataRequest(account_id=a.account_id))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED

    event = new_event(
        "cityhub.identity.account.deleted", identity_events.AccountDeleted(account_id=a.account_id), source="identity"
    )
    connection = await nats.connect(nats_url)
    try:
        await connection.jetstream().publish(event.subject, event.data, headers=to_headers(event))
    finally:
        await connection.close()

    async def erased() -> bool:
        async with incidents.db.session() as session:
            rows = (
                await session.exec(select(OutboxEvent).where(OutboxEvent.subject == "cityhub.incidents.account.erased"))
            ).all()
        return any(
            from_message(r.subject, r.payload, {"ce-id": r.id, "ce-time": r.created_at.isoformat()})
            .decode(identity_events.AccountErased)
            .account_id
            == a.account_id
            for r in rows
        )

    await eventually(erased, timeout_s=15)
    operator = await people.person("operator")
    after = (
        await stub.GetReport(incidents_pb2.GetReportRequest(report_id=filed.id), metadata=operator.metadata)
    ).report
    assert after.anonymous and after.follower_count == 0
    assert after.reporter.account_id == "" and after.reporter.email == "" and after.reporter.name == ""
