"""Staff lifecycle: statuses with notes and expected dates, history, department limits, merges, follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cityhub.incidents.v1 import events_pb2, incidents_pb2
from cityhub_sdk.events import from_message
from cityhub_sdk.tables import OutboxEvent
from google.protobuf.timestamp_pb2 import Timestamp
from sqlmodel import select

CENTRE = (47.6062, -122.3321)


def pothole(lat: float = CENTRE[0], lon: float = CENTRE[1]) -> incidents_pb2.CreateReportRequest:
    return incidents_pb2.CreateReportRequest(
        category="pothole", description="Hole", lat=lat, lon=lon, attributes={"size": "large"}, force=True
    )


async def events(service, subject, message_type):  # type: ignore[no-untyped-def]
    async with service.db.session() as session:
        rows = (await session.exec(select(OutboxEvent).where(OutboxEvent.subject == subject))).all()
    return [
        from_message(r.subject, r.payload, {"ce-id": r.id, "ce-time": r.created_at.isoformat()}).decode(message_type)
        for r in sorted(rows, key=lambda r: r.created_at)
    ]


async def test_staff_move_their_department_reports_through_the_lifecycle(stub, incidents, people) -> None:  # type: ignore[no-untyped-def]
    resident, follower = await people.person(), await people.person()
    roads, waste, operator = (
        await people.person("staff", "roads"),
        await people.person("staff", "waste"),
        await people.person("operator"),
    )
    report = (await stub.CreateReport(pothole(), metadata=resident.metadata)).report
    followed = await stub.FollowReport(
        incidents_pb2.FollowReportRequest(report_id=report.id), metadata=follower.metadata
    )
    assert followed.follower_count == 2
    again = await stub.FollowReport(incidents_pb2.FollowReportRequest(report_id=report.id), metadata=follower.metadata)
    assert again.follower_count == 2
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.FollowReport(incidents_pb2.FollowReportRequest(report_id=report.id))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED

    def change(status: str, **extra):  # type: ignore[no-untyped-def]
        return incidents_pb2.ChangeReportStatusRequest(report_id=report.id, status=status, **extra)

    for outsider, code in ((waste, grpc.StatusCode.PERMISSION_DENIED), (resident, grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.ChangeReportStatus(change("acknowledged"), metadata=outsider.metadata)
        assert error.value.code() == code
    expected = Timestamp()
    expected.FromDatetime(datetime.now(UTC) + timedelta(days=3))
    await stub.ChangeReportStatus(change("acknowledged", public_note="Crew notified"), metadata=roads.metadata)
    scheduled = await stub.ChangeReportStatus(
        change("scheduled", public_note="Repair on Friday", internal_note="crew B", expected_at=expected),
        metadata=roads.metadata,
    )
    assert scheduled.report.status == "scheduled" and scheduled.report.expected_at.seconds == expected.seconds
    fixed = await stub.ChangeReportStatus(change("fixed", public_note="Filled"), metadata=operator.metadata)
    assert fixed.report.status_notes == "Filled"
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.ChangeReportStatus(change("teleported"), metadata=roads.metadata)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    public = (
        await stub.GetReport(incidents_pb2.GetReportRequest(report_id=report.id), metadata=follower.metadata)
    ).report
    assert [(h.kind, h.new_status) for h in public.history] == [
        ("created", "open"),
        ("status", "acknowledged"),
        ("status", "scheduled"),
        ("status", "fixed"),
    ]
    assert "crew B" not in str(public) and public.following
    changes = await events(incidents, "cityhub.incidents.report.status_changed", events_pb2.ReportStatusChanged)
    assert [(c.old_status, c.new_status, c.department) for c in changes] == [
        ("open", "acknowledged", "roads"),
        ("acknowledged", "scheduled", "roads"),
        ("scheduled", "fixed", "roads"),
    ]
    assert changes[1].public_note == "Repair on Friday" and changes[1].expected_at.seconds == expected.seconds
    assert "crew B" not in str(changes)


async def test_merge_marks_duplicate_keeps_parent_and_moves_followers(stub, incidents, people) -> None:  # type: ignore[no-untyped-def]
    a, b = await people.person(), await people.person()
    roads = await people.person("staff", "roads")
    parent = (await stub.CreateReport(pothole(), metadata=a.metadata)).report
    child = (await stub.CreateReport(pothole(), metadata=b.metadata)).report
    merged = await stub.MergeReport(
        incidents_pb2.MergeReportRequest(report_id=child.id, parent_id=parent.id), metadata=roads.metadata
    )
    assert merged.report.status == "duplicate" and merged.report.parent_id == parent.id
    assert merged.report.follower_count == 0
    parent_now = (await stub.GetReport(incidents_pb2.GetReportRequest(report_id=parent.id), metadata=b.metadata)).report
    assert parent_now.follower_count == 2 and parent_now.following
    changed = await events(incidents, "cityhub.incidents.report.status_changed", events_pb2.ReportStatusChanged)
    assert (changed[-1].report_id, changed[-1].new_status, changed[-1].parent_id) == (child.id, "duplicate", parent.id)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.MergeReport(
            incidents_pb2.MergeReportRequest(report_id=parent.id, parent_id=parent.id), metadata=roads.metadata
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_unknown_report_is_not_found(stub) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetReport(incidents_pb2.GetReportRequest(report_id="nope"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
