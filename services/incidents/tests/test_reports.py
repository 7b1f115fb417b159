"""Filing reports: routing, duplicates (acceptance 1), validation that writes nothing (acceptance 3)."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest
from cityhub.incidents.v1 import events_pb2, incidents_pb2
from cityhub_sdk.events import from_message
from cityhub_sdk.tables import OutboxEvent
from sqlmodel import func, select

CENTRE = (47.6062, -122.3321)
POTHOLE = {"size": "medium"}


def moved(lat: float, lon: float, north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    return lat + north_m / 111_195.0, lon + east_m / (111_195.0 * math.cos(math.radians(lat)))


def pothole(lat: float, lon: float, **extra: Any) -> incidents_pb2.CreateReportRequest:
    return incidents_pb2.CreateReportRequest(
        category="pothole", description="Deep pothole", lat=lat, lon=lon, attributes=POTHOLE, **extra
    )


async def count(service: Any, table: Any) -> int:
    async with service.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def outbox(service: Any, subject: str) -> list[Any]:
    async with service.db.session() as session:
        rows = (await session.exec(select(OutboxEvent).where(OutboxEvent.subject == subject))).all()
    return [
        from_message(r.subject, r.payload, {"ce-id": r.id, "ce-time": r.created_at.isoformat(), "ce-dataschema": ""})
        for r in rows
    ]


async def test_report_is_routed_to_the_department_owning_its_category(stub, incidents, people) -> None:  # type: ignore[no-untyped-def]
    resident = await people.person()
    response = await stub.CreateReport(pothole(*CENTRE, address="1 Main St"), metadata=resident.metadata)
    assert response.created
    report = response.report
    assert (report.category, report.service_code, report.department, report.status) == (
        "pothole",
        "RD-POTHOLE",
        "roads",
        "open",
    )
    assert report.mine and report.following and report.follower_count == 1 and not report.anonymous
    created = [e.decode(events_pb2.ReportCreated) for e in await outbox(incidents, "cityhub.incidents.report.created")]
    assert [(c.report_id, c.department, c.category, c.status) for c in created] == [
        (report.id, "roads", "pothole", "open")
    ]
    assert created[0].h3_cell_r9 and not created[0].anonymous
    followed = [
        e.decode(events_pb2.ReportFollowed) for e in await outbox(incidents, "cityhub.incidents.report.followed")
    ]
    assert [(f.report_id, f.account_id) for f in followed] == [(report.id, resident.account_id)]


async def test_report_by_open311_code_and_anonymous(stub) -> None:  # type: ignore[no-untyped-def]
    request = pothole(*CENTRE)
    request.category = "RD-POTHOLE"
    response = await stub.CreateReport(request)
    assert response.created and response.report.anonymous and response.report.follower_count == 0


async def test_acceptance_1_report_40m_away_offers_the_existing_one_400m_is_new(stub, incidents) -> None:  # type: ignore[no-untyped-def]
    first = (await stub.CreateReport(pothole(*CENTRE))).report
    near = await stub.CreateReport(pothole(*moved(*CENTRE, 40)))
    assert not near.created
    assert near.duplicate_of.id == first.id
    assert 35 < near.duplicate_of.distance_m < 45
    assert not near.duplicate_of.HasField("reporter")
    far = await stub.CreateReport(pothole(*moved(*CENTRE, 400)))
    assert far.created and far.report.id != first.id
    forced = await stub.CreateReport(pothole(*moved(*CENTRE, 40), force=True))
    assert forced.created
    other_category = await stub.CreateReport(
        incidents_pb2.CreateReportRequest(
            category="streetlight-out", description="dark", lat=CENTRE[0], lon=CENTRE[1], attributes={"problem": "out"}
        )
    )
    assert other_category.created
    from cityhub_incidents.models import Report

    assert await count(incidents, Report) == 4


async def test_simultaneous_reports_of_one_problem_file_one_and_offer_it_to_the_others(stub, incidents) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from cityhub_incidents.models import Report

    spots = [moved(*CENTRE, 10 * i) for i in range(6)]  # six residents, one pothole, same moment
    answers = await asyncio.gather(*(stub.CreateReport(pothole(*spot)) for spot in spots))
    created = [a.report.id for a in answers if a.created]
    assert len(created) == 1
    assert all(a.duplicate_of.id == created[0] for a in answers if not a.created)
    assert await count(incidents, Report) == 1
    assert len(await outbox(incidents, "cityhub.incidents.report.created")) == 1


async def test_closed_reports_are_not_duplicates(stub, people) -> None:  # type: ignore[no-untyped-def]
    staff = await people.person("staff", "roads")
    first = (await stub.CreateReport(pothole(*CENTRE))).report
    await stub.ChangeReportStatus(
        incidents_pb2.ChangeReportStatusRequest(report_id=first.id, status="fixed"), metadata=staff.metadata
    )
    assert (await stub.CreateReport(pothole(*moved(*CENTRE, 20)))).created


BAD_POINTS = [
    (math.nan, CENTRE[1]),
    (CENTRE[0], math.nan),
    (math.inf, CENTRE[1]),
    (-math.inf, CENTRE[1]),
    (CENTRE[0], math.inf),
    (91.0, CENTRE[1]),
    (-90.5, CENTRE[1]),
    (CENTRE[0], 181.0),
    (CENTRE[0], -180.01),
    (1e308, 1e308),
    (0.0, 0.0),  # valid on Earth, outside the city
    (47.70, -122.33),  # just north of the boundary
]


async def test_acceptance_3_bad_coordinates_are_refused_and_write_nothing(stub, incidents) -> None:  # type: ignore[no-untyped-def]
    for lat, lon in BAD_POINTS:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.CreateReport(pothole(lat, lon))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (lat, lon)
    from cityhub_incidents.models import Report

    assert await count(incidents, Report) == 0
    assert await count(incidents, OutboxEvent) == 0


INVALID_REPORTS: list[tuple[dict[str, Any], str]] = [
    ({"category": "no-such-thing"}, "unknown category"),
    ({"category": "property-tax-payment"}, "does not take reports"),
    ({"description": ""}, "description is required"),
    ({"description": "x" * 5000}, "description longer"),
    ({"attributes": {}}, "'size' is required"),
    ({"attributes": {"size": "gigantic"}}, "must be one of"),
    ({"attributes": {"size": "small", "colour": "red"}}, "unknown attribute"),
]


async def test_invalid_reports_are_refused_and_write_nothing(stub, incidents) -> None:  # type: ignore[no-untyped-def]
    for change, detail in INVALID_REPORTS:
        request = pothole(*CENTRE)
        for key, value in change.items():
            if key == "attributes":
                request.attributes.clear()
                request.attributes.update(value)
            else:
                setattr(request, key, value)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.CreateReport(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert detail in (error.value.details() or ""), detail
    from cityhub_incidents.models import Report

    assert await count(incidents, Report) == 0


async def test_contact_data_typed_into_the_description_is_redacted(stub) -> None:  # type: ignore[no-untyped-def]
    request = pothole(*CENTRE)
    request.description = "Call me at +1 (206) 555-0100 or jane.doe@example.org about it"
    report = (await stub.CreateReport(request)).report
    assert "555" not in report.description and "example.org" not in report.description
    assert "[redacted]" in report.description
