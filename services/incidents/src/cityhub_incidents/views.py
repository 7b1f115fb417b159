"""Rows to protobuf messages. Private parts are copied only when the view carries them."""

from __future__ import annotations

from cityhub.incidents.v1 import events_pb2, incidents_pb2
from cityhub_sdk.timestamps import now, to_timestamp

from cityhub_incidents.alerts import alert_state
from cityhub_incidents.models import Alert, ReportHistory
from cityhub_incidents.reports import ReportView


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
        department=alert.department,
        kind=alert.kind,
        severity=alert.severity,
        center_lat=alert.center_lat,
        center_lon=alert.center_lon,
        radius_m=alert.radius_m,
        polygon=[events_pb2.LatLon(lat=p[0], lon=p[1]) for p in alert.polygon],
        starts_at=to_timestamp(alert.starts_at),
        ends_at=to_timestamp(alert.ends_at),
        title=dict(alert.title),
        body=dict(alert.body),
        state=alert_state(alert, now()),
        created_at=to_timestamp(alert.created_at),
        updated_at=to_timestamp(alert.updated_at),
    )
