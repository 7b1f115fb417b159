"""Incidents owns the Open311 vocabulary: every report carries its status group (open or closed)
and ListReports filters by it, so the gateway never copies the status sets."""

from __future__ import annotations

import grpc
import pytest
from cityhub.incidents.v1 import incidents_pb2

CENTRE = (47.6062, -122.3321)
OPEN, CLOSED = incidents_pb2.STATUS_GROUP_OPEN, incidents_pb2.STATUS_GROUP_CLOSED
# The contract, spelled out once here: Open311 `open` and `closed`.
EXPECTED = {
    "open": OPEN,
    "acknowledged": OPEN,
    "in_progress": OPEN,
    "scheduled": OPEN,
    "fixed": CLOSED,
    "closed": CLOSED,
    "duplicate": CLOSED,
    "not_ours": CLOSED,
}


def pothole() -> incidents_pb2.CreateReportRequest:
    return incidents_pb2.CreateReportRequest(
        category="pothole", description="Hole", lat=CENTRE[0], lon=CENTRE[1], attributes={"size": "large"}, force=True
    )


async def test_every_report_carries_its_status_group_and_lists_filter_by_it(stub, people) -> None:  # type: ignore[no-untyped-def]
    roads = await people.person("staff", "roads")
    by_status: dict[str, str] = {}
    for status in EXPECTED:
        created = await stub.CreateReport(pothole())
        assert created.report.status_group == OPEN
        by_status[status] = created.report.id
    for status, report_id in by_status.items():
        if status == "open":
            continue
        if status == "duplicate":
            changed = await stub.MergeReport(
                incidents_pb2.MergeReportRequest(report_id=report_id, parent_id=by_status["open"]),
                metadata=roads.metadata,
            )
        else:
            changed = await stub.ChangeReportStatus(
                incidents_pb2.ChangeReportStatusRequest(report_id=report_id, status=status), metadata=roads.metadata
            )
        assert (changed.report.status, changed.report.status_group) == (status, EXPECTED[status])

    listed = await stub.ListReports(incidents_pb2.ListReportsRequest())
    assert {r.status: r.status_group for r in listed.reports} == EXPECTED
    for status, report_id in by_status.items():
        got = (await stub.GetReport(incidents_pb2.GetReportRequest(report_id=report_id))).report
        assert got.status_group == EXPECTED[status]
    near = await stub.SearchReports(
        incidents_pb2.SearchReportsRequest(lat=CENTRE[0], lon=CENTRE[1], radius_m=100, statuses=list(EXPECTED))
    )
    assert {r.status: r.status_group for r in near.reports} == EXPECTED

    async def statuses(**fields: object) -> set[str]:
        response = await stub.ListReports(incidents_pb2.ListReportsRequest(**fields))  # type: ignore[arg-type]
        return {r.status for r in response.reports}

    assert await statuses(status_group=OPEN) == {s for s, g in EXPECTED.items() if g == OPEN}
    assert await statuses(status_group=CLOSED) == {s for s, g in EXPECTED.items() if g == CLOSED}
    assert await statuses(status_group=CLOSED, statuses=["fixed", "open"]) == {"fixed"}  # both filters apply
    assert await statuses(status_group=CLOSED, statuses=["open"]) == set()
    staff_open = await stub.ListReports(
        incidents_pb2.ListReportsRequest(status_group=OPEN, page_size=2), metadata=roads.metadata
    )
    assert len(staff_open.reports) == 2 and staff_open.next_page_token
    rest = await stub.ListReports(
        incidents_pb2.ListReportsRequest(status_group=OPEN, page_token=staff_open.next_page_token),
        metadata=roads.metadata,
    )
    assert {r.id for r in [*staff_open.reports, *rest.reports]} == {
        by_status[s] for s, g in EXPECTED.items() if g == OPEN
    }

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.ListReports(incidents_pb2.ListReportsRequest(status_group=7))  # type: ignore[arg-type]
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
