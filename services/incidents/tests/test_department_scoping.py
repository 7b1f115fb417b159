"""Department scoping is the service's rule, not the gateway's: staff and department API keys list
and work on their own department's reports only; operators on any; the public sees public views.
Every refusal is an SDK use-case error that reaches the client with its status and text."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from cityhub.incidents.v1 import incidents_pb2
from cityhub_incidents.models import ReportHistory
from cityhub_sdk.tables import OutboxEvent
from sqlmodel import func, select

CENTRE = (47.6062, -122.3321)
Metadata = tuple[tuple[str, str], ...]


def pothole() -> incidents_pb2.CreateReportRequest:  # roads
    return incidents_pb2.CreateReportRequest(
        category="pothole",
        description="Hole",
        lat=CENTRE[0],
        lon=CENTRE[1],
        attributes={"size": "large"},
        contact=incidents_pb2.ReporterContact(email="reporter@example.org"),
        force=True,
    )


def dumping() -> incidents_pb2.CreateReportRequest:  # waste
    return incidents_pb2.CreateReportRequest(
        category="illegal-dumping",
        description="Sofa on the kerb",
        lat=CENTRE[0],
        lon=CENTRE[1],
        attributes={"items": "furniture", "hazard": "no"},
        force=True,
    )


async def refused(call: Any, request: Any, metadata: Metadata) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call(request, metadata=metadata)
    return error.value


async def count(service: Any, table: Any) -> int:
    async with service.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def test_list_reports_is_scoped_to_the_callers_department(stub, people) -> None:  # type: ignore[no-untyped-def]
    roads, waste = await people.person("staff", "roads"), await people.person("staff", "waste")
    operator, resident = await people.person("operator"), await people.person()
    roads_key, waste_key = await people.api_key("roads"), await people.api_key("waste")
    road = (await stub.CreateReport(pothole())).report
    dump = (await stub.CreateReport(dumping())).report
    assert (road.department, dump.department) == ("roads", "waste")

    async def ids(metadata: Metadata, department: str = "") -> set[str]:
        response = await stub.ListReports(incidents_pb2.ListReportsRequest(department=department), metadata=metadata)
        return {r.id for r in response.reports}

    for own, metadata, mine in (
        ("roads", roads.metadata, road.id),
        ("waste", waste.metadata, dump.id),
        ("roads", roads_key, road.id),
        ("waste", waste_key, dump.id),
    ):
        assert await ids(metadata) == {mine}  # no department named: their own, never everyone's
        assert await ids(metadata, own) == {mine}
        other = "waste" if own == "roads" else "roads"
        error = await refused(stub.ListReports, incidents_pb2.ListReportsRequest(department=other), metadata)
        assert (error.code(), error.details()) == (grpc.StatusCode.PERMISSION_DENIED, "not your department")
        # ... also when asking by id for another department's report
        by_id = await stub.ListReports(
            incidents_pb2.ListReportsRequest(report_ids=[road.id, dump.id]), metadata=metadata
        )
        assert [r.id for r in by_id.reports] == [mine]

    assert await ids(operator.metadata) == {road.id, dump.id}
    assert await ids(operator.metadata, "waste") == {dump.id}
    for public in (resident.metadata, ()):  # the public list (Open311) has every department, public view
        assert await ids(public) == {road.id, dump.id}
        assert await ids(public, "roads") == {road.id}
        listed = await stub.ListReports(incidents_pb2.ListReportsRequest(), metadata=public)
        assert not any(r.HasField("reporter") or r.staff_notes for r in listed.reports)


async def test_staff_view_of_a_report_is_only_for_its_department(stub, people) -> None:  # type: ignore[no-untyped-def]
    roads, waste = await people.person("staff", "roads"), await people.person("staff", "waste")
    operator, resident = await people.person("operator"), await people.person()
    roads_key, waste_key = await people.api_key("roads"), await people.api_key("waste")
    road = (await stub.CreateReport(pothole())).report
    await stub.AddReportNote(
        incidents_pb2.AddReportNoteRequest(report_id=road.id, text="crew B", public=False), metadata=roads.metadata
    )
    staff_get = incidents_pb2.GetReportRequest(report_id=road.id, staff_view=True)

    for manager in (roads.metadata, roads_key, operator.metadata):
        view = (await stub.GetReport(staff_get, metadata=manager)).report
        assert view.reporter.email == "reporter@example.org" and [n.text for n in view.staff_notes] == ["crew B"]

    for outsider, detail in (
        (waste.metadata, "not your department"),
        (waste_key, "not your department"),
        (resident.metadata, "staff only"),
    ):
        error = await refused(stub.GetReport, staff_get, outsider)
        assert (error.code(), error.details()) == (grpc.StatusCode.PERMISSION_DENIED, detail)
    anonymous = await refused(stub.GetReport, staff_get, ())
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED

    # Without staff_view anyone gets the public view: another department's staff too.
    public = (await stub.GetReport(incidents_pb2.GetReportRequest(report_id=road.id), metadata=waste.metadata)).report
    assert public.id == road.id and not public.HasField("reporter") and not public.staff_notes

    missing = await refused(
        stub.GetReport, incidents_pb2.GetReportRequest(report_id="nope", staff_view=True), roads.metadata
    )
    assert (missing.code(), missing.details()) == (grpc.StatusCode.NOT_FOUND, "report not found")


async def test_other_departments_cannot_change_note_or_merge_and_nothing_is_written(stub, incidents, people) -> None:  # type: ignore[no-untyped-def]
    roads, waste = await people.person("staff", "roads"), await people.person("staff", "waste")
    waste_key = await people.api_key("waste")
    road, other_road = (await stub.CreateReport(pothole())).report, (await stub.CreateReport(pothole())).report
    dump = (await stub.CreateReport(dumping())).report
    history, events = await count(incidents, ReportHistory), await count(incidents, OutboxEvent)

    for outsider in (waste.metadata, waste_key):
        for call, request in (
            (stub.ChangeReportStatus, incidents_pb2.ChangeReportStatusRequest(report_id=road.id, status="fixed")),
            (stub.AddReportNote, incidents_pb2.AddReportNoteRequest(report_id=road.id, text="mine now")),
            (stub.MergeReport, incidents_pb2.MergeReportRequest(report_id=road.id, parent_id=other_road.id)),
            (stub.MergeReport, incidents_pb2.MergeReportRequest(report_id=dump.id, parent_id=road.id)),
        ):
            error = await refused(call, request, outsider)
            assert (error.code(), error.details()) == (grpc.StatusCode.PERMISSION_DENIED, "not your department")
    # Roads may not merge its report into waste's either: both must be theirs.
    error = await refused(
        stub.MergeReport, incidents_pb2.MergeReportRequest(report_id=road.id, parent_id=dump.id), roads.metadata
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await count(incidents, ReportHistory), await count(incidents, OutboxEvent)) == (history, events)

    done = await stub.ChangeReportStatus(
        incidents_pb2.ChangeReportStatusRequest(report_id=road.id, status="acknowledged"), metadata=roads.metadata
    )
    assert done.report.status == "acknowledged"


async def test_a_use_case_error_reaches_the_client_with_its_status_and_text(stub) -> None:  # type: ignore[no-untyped-def]
    """Raised deep in a use case as the SDK's NotFound; the SDK interceptor alone maps it."""
    for call, request, code, detail in (
        (
            stub.GetReport,
            incidents_pb2.GetReportRequest(report_id="nope"),
            grpc.StatusCode.NOT_FOUND,
            "report not found",
        ),
        (stub.GetAlert, incidents_pb2.GetAlertRequest(alert_id="nope"), grpc.StatusCode.NOT_FOUND, "alert not found"),
        (
            stub.FollowReport,
            incidents_pb2.FollowReportRequest(report_id="nope"),
            grpc.StatusCode.UNAUTHENTICATED,
            "sign-in required",
        ),
        (
            stub.ListReports,
            incidents_pb2.ListReportsRequest(page_token="%%%"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "page_token is not valid",
        ),
    ):
        error = await refused(call, request, ())
        assert (error.code(), error.details()) == (code, detail)
