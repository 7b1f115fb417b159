"""Rows and views to protobuf messages (the one mapper). Private parts are copied only when the view
carries them; every report carries its status group, so no client copies the status vocabulary."""

from __future__ import annotations

from cityhub.incidents.v1 import incidents_pb2
from cityhub_sdk.errors import InvalidArgument
from cityhub_sdk.timestamps import from_timestamp, now, to_timestamp

from cityhub_incidents.models import Alert, ReportHistory, StatusGroup, status_group
from cityhub_incidents.publishing import alert_fields
from cityhub_incidents.repository import ListFilter
from cityhub_incidents.service.alerts import AlertInput, alert_state
from cityhub_incidents.service.filing import NewReport
from cityhub_incidents.service.visibility import ReportView

_GROUP_MESSAGE: dict[StatusGroup, incidents_pb2.StatusGroup.ValueType] = {
    "open": incidents_pb2.STATUS_GROUP_OPEN,
    "closed": incidents_pb2.STATUS_GROUP_CLOSED,
}
_GROUP_OF_MESSAGE: dict[int, StatusGroup | None] = {
    incidents_pb2.STATUS_GROUP_UNSPECIFIED: None,
    incidents_pb2.STATUS_GROUP_OPEN: "open",
    incidents_pb2.STATUS_GROUP_CLOSED: "closed",
}


def status_group_of(value: int) -> StatusGroup | None:
    """A request's status group filter (unspecified: none); an unknown value is INVALID_ARGUMENT."""
    if value not in _GROUP_OF_MESSAGE:
        raise InvalidArgument("unknown status_group")
    return _GROUP_OF_MESSAGE[value]


# ---------------------------------------------------------------- requests to use-case inputs
def new_report(request: incidents_pb2.CreateReportRequest) -> NewReport:
    return NewReport(
        category=request.category,
        description=request.description,
        lat=request.lat,
        lon=request.lon,
        address=request.address,
        zipcode=request.zipcode,
        photo=request.photo,
        attributes=dict(request.attributes),
        contact_name=request.contact.name,
        contact_email=request.contact.email,
        contact_phone=request.contact.phone,
        device_id=request.contact.device_id,
        force=request.force,
        idempotency_key=request.idempotency_key,
    )


def list_filter(request: incidents_pb2.ListReportsRequest) -> ListFilter:
    return ListFilter(
        report_ids=list(request.report_ids),
        service_code=request.service_code or None,
        category=request.category or None,
        department=request.department or None,
        start=from_timestamp(request.start, request.HasField("start")),
        end=from_timestamp(request.end, request.HasField("end")),
        statuses=list(request.statuses),
        service_codes=list(request.service_codes),
    )


def alert_input(message: incidents_pb2.AlertInput) -> AlertInput:
    return AlertInput(
        department=message.department,
        kind=message.kind,
        severity=message.severity,
        center_lat=message.center_lat,
        center_lon=message.center_lon,
        radius_m=message.radius_m,
        polygon=[(p.lat, p.lon) for p in message.polygon],
        starts_at=from_timestamp(message.starts_at, message.HasField("starts_at")),
        ends_at=from_timestamp(message.ends_at, message.HasField("ends_at")),
        title=dict(message.title),
        body=dict(message.body),
    )


# ---------------------------------------------------------------- results to messages
def history_entry(entry: ReportHistory) -> incidents_pb2.HistoryEntry:
    return incidents_pb2.HistoryEntry(
        kind=entry.kind,
        old_status=entry.old_status,
        new_status=entry.new_status,
        public_note=entry.public_note,
        expected_at=to_timestamp(entry.expected_at),
        at=to_timestamp(entry.at),
    )


def report_message(view: ReportView) -> incidents_pb2.Report:
    report = view.report
    message = incidents_pb2.Report(
        id=report.id,
        category=report.category,
        service_code=report.service_code,
        department=report.department,
        status=report.status,
        status_group=_GROUP_MESSAGE[status_group(report.status)],
        description=report.description,
        lat=report.lat,
        lon=report.lon,
        address=report.address,
        zipcode=report.zipcode,
        created_at=to_timestamp(report.created_at),
        updated_at=to_timestamp(report.updated_at),
        expected_at=to_timestamp(report.expected_at),
        has_photo=report.photo_key is not None,
        follower_count=report.follower_count,
        parent_id=report.parent_id or "",
        distance_m=view.distance_m or 0.0,
        status_notes=report.status_notes,
        attributes=dict(report.attributes or {}),
        anonymous=report.anonymous,
        following=view.following,
        mine=view.mine,
        history=[history_entry(h) for h in view.history],
    )
    if view.reporter is not None:
        message.reporter.CopyFrom(
            incidents_pb2.ReporterContact(
                account_id=view.reporter.account_id or "",
                name=view.reporter.name,
                email=view.reporter.email,
                phone=view.reporter.phone,
                device_id=view.reporter.device_id,
            )
        )
    message.staff_notes.extend(
        incidents_pb2.StaffNote(text=n.internal_note, author_id=n.actor_id, at=to_timestamp(n.at))
        for n in view.staff_notes
    )
    return message


def alert_message(alert: Alert) -> incidents_pb2.CityAlert:
    return incidents_pb2.CityAlert(
        id=alert.id,
        **alert_fields(alert),
        state=alert_state(alert, now()),
        created_at=to_timestamp(alert.created_at),
        updated_at=to_timestamp(alert.updated_at),
    )
