"""The events incidents publishes, built from its rows (through the outbox, in the same transaction).

Payloads are coarse on purpose: ids, category, department, location of the report, statuses.
Never the reporter, their contact data or the description.
"""

from __future__ import annotations

from typing import Any

from cityhub.identity.v1 import events_pb2 as identity_events
from cityhub.incidents.v1 import events_pb2
from cityhub_sdk import subjects
from cityhub_sdk.outbox import add_event
from cityhub_sdk.timestamps import now, to_timestamp, utc
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents.models import Alert, Report

SOURCE = "incidents"


def report_created(session: AsyncSession, report: Report) -> None:
    add_event(
        session,
        subjects.INCIDENTS_REPORT_CREATED,
        events_pb2.ReportCreated(
            report_id=report.id,
            category=report.category,
            department=report.department,
            lat=report.lat,
            lon=report.lon,
            h3_cell_r9=report.h3_r9,
            status=report.status,
            created_at=to_timestamp(report.created_at),
            anonymous=report.anonymous,
        ),
        source=SOURCE,
    )


def status_changed(session: AsyncSession, report: Report, old_status: str, public_note: str) -> None:
    add_event(
        session,
        subjects.INCIDENTS_REPORT_STATUS_CHANGED,
        events_pb2.ReportStatusChanged(
            report_id=report.id,
            category=report.category,
            department=report.department,
            old_status=old_status,
            new_status=report.status,
            public_note=public_note,
            expected_at=to_timestamp(report.expected_at),
            changed_at=to_timestamp(report.updated_at),
            parent_id=report.parent_id or "",
        ),
        source=SOURCE,
    )


def followed(session: AsyncSession, report_id: str, account_id: str) -> None:
    add_event(
        session,
        subjects.INCIDENTS_REPORT_FOLLOWED,
        events_pb2.ReportFollowed(report_id=report_id, account_id=account_id),
        source=SOURCE,
    )


def unfollowed(session: AsyncSession, report_id: str, account_id: str) -> None:
    add_event(
        session,
        subjects.INCIDENTS_REPORT_UNFOLLOWED,
        events_pb2.ReportUnfollowed(report_id=report_id, account_id=account_id),
        source=SOURCE,
    )


def alert_fields(alert: Alert) -> dict[str, Any]:
    """What an alert is, as the fields the event and the API's CityAlert both carry by these names."""
    return {
        "department": alert.department,
        "kind": alert.kind,
        "severity": alert.severity,
        "center_lat": alert.center_lat,
        "center_lon": alert.center_lon,
        "radius_m": alert.radius_m,
        "polygon": [events_pb2.LatLon(lat=p[0], lon=p[1]) for p in alert.polygon],
        "starts_at": to_timestamp(alert.starts_at),
        "ends_at": to_timestamp(alert.ends_at),
        "title": dict(alert.title),
        "body": dict(alert.body),
    }


def _alert_event(alert: Alert) -> events_pb2.Alert:
    return events_pb2.Alert(alert_id=alert.id, h3_cells_r7=list(alert.cells_r7), **alert_fields(alert))


def alert_published(session: AsyncSession, alert: Alert) -> None:
    add_event(
        session, subjects.INCIDENTS_ALERT_PUBLISHED, events_pb2.AlertPublished(alert=_alert_event(alert)), source=SOURCE
    )


def alert_updated(session: AsyncSession, alert: Alert) -> None:
    add_event(
        session, subjects.INCIDENTS_ALERT_UPDATED, events_pb2.AlertUpdated(alert=_alert_event(alert)), source=SOURCE
    )


def alert_ended(session: AsyncSession, alert: Alert) -> None:
    assert alert.ended_at is not None
    add_event(
        session,
        subjects.INCIDENTS_ALERT_ENDED,
        events_pb2.AlertEnded(alert_id=alert.id, ended_at=to_timestamp(utc(alert.ended_at))),
        source=SOURCE,
    )


def account_erased(session: AsyncSession, account_id: str) -> None:
    add_event(
        session,
        subjects.INCIDENTS_ACCOUNT_ERASED,
        identity_events.AccountErased(account_id=account_id, service=SOURCE, erased_at=to_timestamp(now())),
        source=SOURCE,
    )
