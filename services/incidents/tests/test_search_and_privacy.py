"""Nearby search (H3 cells + exact distance, pages) and privacy between residents (acceptance 4)."""

from __future__ import annotations

import math

import grpc
import pytest
from cityhub.incidents.v1 import incidents_pb2

CENTRE = (47.6062, -122.3321)


def moved(lat: float, lon: float, north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    return lat + north_m / 111_195.0, lon + east_m / (111_195.0 * math.cos(math.radians(lat)))


def graffiti(lat: float, lon: float, **extra: object) -> incidents_pb2.CreateReportRequest:
    return incidents_pb2.CreateReportRequest(
        category="graffiti",
        description="Tag on the wall",
        lat=lat,
        lon=lon,
        attributes={"surface": "bridge", "offensive": "no"},
        force=True,
        **extra,  # type: ignore[arg-type]
    )


async def test_nearby_is_ordered_by_exact_distance_within_the_radius_and_paginated(stub) -> None:  # type: ignore[no-untyped-def]
    distances = [0, 120, 260, 480, 700, 950, 1200, 3000]
    ids = {}
    for i, d in enumerate(distances):
        east = d if i % 2 else -d
        ids[d] = (await stub.CreateReport(graffiti(*moved(*CENTRE, d * 0.6, east * 0.8)))).report.id
    seen, token = [], ""
    while True:
        page = await stub.SearchReports(
            incidents_pb2.SearchReportsRequest(
                lat=CENTRE[0], lon=CENTRE[1], radius_m=1000, page_size=2, page_token=token
            )
        )
        seen.extend(page.reports)
        token = page.next_page_token
        if not token:
            break
    assert [r.id for r in seen] == [ids[d] for d in distances if d <= 1000]
    assert all(abs(r.distance_m - d) < 2 for r, d in zip(seen, distances, strict=False))
    assert all(not r.HasField("reporter") for r in seen)
    wide = await stub.SearchReports(incidents_pb2.SearchReportsRequest(lat=CENTRE[0], lon=CENTRE[1], radius_m=5000))
    assert len(wide.reports) == len(distances)
    closed = await stub.SearchReports(
        incidents_pb2.SearchReportsRequest(lat=CENTRE[0], lon=CENTRE[1], radius_m=5000, statuses=["closed"])
    )
    assert len(closed.reports) == 0


async def test_acceptance_3_bad_search_input_is_invalid_argument(stub) -> None:  # type: ignore[no-untyped-def]
    bad = [
        {"lat": math.nan, "lon": 0.0, "radius_m": 100},
        {"lat": 0.0, "lon": math.inf, "radius_m": 100},
        {"lat": 95.0, "lon": 0.0, "radius_m": 100},
        {"lat": 0.0, "lon": 0.0, "radius_m": 0},
        {"lat": 0.0, "lon": 0.0, "radius_m": -5},
        {"lat": 0.0, "lon": 0.0, "radius_m": 1e12},
        {"lat": 0.0, "lon": 0.0, "radius_m": math.nan},
        {"lat": 0.0, "lon": 0.0, "radius_m": 100, "page_token": "%%%"},
        {"lat": 0.0, "lon": 0.0, "radius_m": 100, "statuses": ["bogus"]},
    ]
    for fields in bad:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.SearchReports(incidents_pb2.SearchReportsRequest(**fields))  # type: ignore[arg-type]
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, fields


async def test_acceptance_4_resident_b_never_sees_resident_a_private_data(stub, people) -> None:  # type: ignore[no-untyped-def]
    a, b = await people.person(), await people.person()
    roads, waste = await people.person("staff", "roads"), await people.person("staff", "waste")
    request = graffiti(*CENTRE)
    request.contact.CopyFrom(
        incidents_pb2.ReporterContact(name="Alice A", email="alice@example.org", phone="+12065550100")
    )
    report = (await stub.CreateReport(request, metadata=a.metadata)).report
    assert report.reporter.email == "alice@example.org" and report.reporter.account_id == a.account_id
    await stub.AddReportNote(
        incidents_pb2.AddReportNoteRequest(report_id=report.id, text="caller sounded upset", public=False),
        metadata=roads.metadata,
    )

    def leaks(message: incidents_pb2.Report) -> bool:
        text = str(message)
        return any(s in text for s in ("alice@example.org", "Alice A", "5550100", a.account_id, "upset"))

    for viewer in (b.metadata, waste.metadata, ()):
        got = (await stub.GetReport(incidents_pb2.GetReportRequest(report_id=report.id), metadata=viewer)).report
        assert not got.HasField("reporter") and not got.staff_notes and not got.mine and not leaks(got)
        near = await stub.SearchReports(
            incidents_pb2.SearchReportsRequest(lat=CENTRE[0], lon=CENTRE[1], radius_m=500), metadata=viewer
        )
        assert [r.id for r in near.reports] == [report.id] and not leaks(near.reports[0])
        listed = await stub.ListReports(incidents_pb2.ListReportsRequest(), metadata=viewer)
        assert not any(leaks(r) for r in listed.reports)
        duplicate = await stub.CreateReport(
            incidents_pb2.CreateReportRequest(
                category="graffiti",
                description="same",
                lat=CENTRE[0],
                lon=CENTRE[1],
                attributes={"surface": "bridge", "offensive": "no"},
            ),
            metadata=viewer,
        )
        assert not duplicate.created and not leaks(duplicate.duplicate_of)
    b_export = await stub.ExportAccountData(
        incidents_pb2.ExportAccountDataRequest(account_id=a.account_id), metadata=b.metadata
    )
    assert "alice" not in b_export.json
    staff_view = (
        await stub.GetReport(incidents_pb2.GetReportRequest(report_id=report.id), metadata=roads.metadata)
    ).report
    assert staff_view.reporter.email == "alice@example.org" and staff_view.staff_notes[0].text == "caller sounded upset"
    own = (await stub.GetReport(incidents_pb2.GetReportRequest(report_id=report.id), metadata=a.metadata)).report
    assert own.mine and own.reporter.phone == "+12065550100" and not own.staff_notes
