"""Staff routes: their department's incidents (with reporter contact), status changes, notes,
merges, and city alerts. The incidents service checks the department again on every call."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from cityhub.incidents.v1 import events_pb2, incidents_pb2
from cityhub_sdk.auth import Caller
from cityhub_sdk.timestamps import to_timestamp
from google.protobuf.timestamp_pb2 import Timestamp
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import JSONBody, Parameter, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.incidents import IdempotencyKey, alert_json, invalid, parse_float, parse_int, report_json

ReportId = Annotated[str, Parameter(max_length=64)]
AlertId = Annotated[str, Parameter(max_length=64)]


def stamp(name: str, value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise invalid(name, "needs a time zone (e.g. 2026-11-22T10:00:00Z)")
    return to_timestamp(value)


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    status: str
    public_note: str = ""
    internal_note: str = ""
    expected_at: datetime | None = None


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    public: bool = False


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    parent_id: str


class AreaIn(msgspec.Struct, forbid_unknown_fields=True):
    type: str  # circle | polygon
    center: list[float] | None = None  # [lat, lon]
    radius_m: float | None = None
    coordinates: list[list[float]] | None = None  # [[lat, lon], ...]


class AlertIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    severity: str
    area: AreaIn
    ends_at: datetime
    title: dict[str, str]
    body: dict[str, str] = {}
    starts_at: datetime | None = None
    department: str = ""  # operators only


def alert_input(data: AlertIn) -> incidents_pb2.AlertInput:
    message = incidents_pb2.AlertInput(
        department=data.department,
        kind=data.kind,
        severity=data.severity,
        title=data.title,
        body=data.body,
        starts_at=stamp("starts_at", data.starts_at),
        ends_at=stamp("ends_at", data.ends_at),
    )
    if data.area.type == "circle":
        if not data.area.center or len(data.area.center) != 2:
            raise invalid("area.center", "must be [lat, lon]")
        message.center_lat = parse_float("area.center[0]", data.area.center[0], low=-90, high=90) or 0.0
        message.center_lon = parse_float("area.center[1]", data.area.center[1], low=-180, high=180) or 0.0
        message.radius_m = parse_float("area.radius_m", data.area.radius_m, low=10, high=50_000) or 0.0
    elif data.area.type == "polygon":
        for index, point in enumerate(data.area.coordinates or []):
            if len(point) != 2:
                raise invalid(f"area.coordinates[{index}]", "must be [lat, lon]")
            lat = parse_float(f"area.coordinates[{index}][0]", point[0], low=-90, high=90) or 0.0
            lon = parse_float(f"area.coordinates[{index}][1]", point[1], low=-180, high=180) or 0.0
            message.polygon.append(events_pb2.LatLon(lat=lat, lon=lon))
    else:
        raise invalid("area.type", "must be circle or polygon")
    return message


class StaffIncidentController(Controller):
    path = "/v1/staff/incidents"
    tags = ["staff"]

    @get("/", summary="My department's incidents, newest first (operators: any department)")
    async def list_reports(
        self,
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        status: Annotated[str | None, QueryParameter(name="status", required=False, max_length=200)] = None,
        department: Annotated[str | None, QueryParameter(name="department", required=False, max_length=64)] = None,
        page_size: Annotated[str | None, QueryParameter(name="page_size", required=False)] = None,
        page_token: Annotated[str | None, QueryParameter(name="page_token", required=False, max_length=200)] = None,
    ) -> dict[str, Any]:
        own = caller.department if caller.role == "staff" else (department or "")
        response = await clients.incidents.ListReports(
            incidents_pb2.ListReportsRequest(
                department=own or "",
                statuses=[s.strip() for s in (status or "").split(",") if s.strip()],
                page_size=parse_int("page_size", page_size, low=1, high=1000),
                page_token=page_token or "",
            ),
            metadata=caller.metadata(),
        )
        return {
            "items": [report_json(r) for r in response.reports],
            "next_page_token": response.next_page_token or None,
        }

    @get("/{report_id:str}", summary="One incident with reporter contact and staff notes")
    async def get_report(
        self, report_id: ReportId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> dict[str, Any]:
        response = await clients.incidents.GetReport(
            incidents_pb2.GetReportRequest(report_id=report_id), metadata=caller.metadata()
        )
        if caller.role == "staff" and response.report.department != caller.department:
            raise PermissionDeniedException(detail="not your department")
        return report_json(response.report, private=True, history=True)

    @post(
        "/{report_id:str}/status",
        summary="Change the status (public note, internal note, expected date)",
        status_code=200,
    )
    async def change_status(
        self,
        report_id: ReportId,
        data: JSONBody[StatusIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> dict[str, Any]:
        response = await clients.incidents.ChangeReportStatus(
            incidents_pb2.ChangeReportStatusRequest(
                report_id=report_id,
                status=data.status,
                public_note=data.public_note,
                internal_note=data.internal_note,
                expected_at=stamp("expected_at", data.expected_at),
            ),
            metadata=caller.metadata(),
        )
        return report_json(response.report, private=True, history=True)

    @post("/{report_id:str}/notes", summary="Add a note (internal unless public=true)", status_code=200)
    async def add_note(
        self,
        report_id: ReportId,
        data: JSONBody[NoteIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> dict[str, Any]:
        response = await clients.incidents.AddReportNote(
            incidents_pb2.AddReportNoteRequest(report_id=report_id, text=data.text, public=data.public),
            metadata=caller.metadata(),
        )
        return report_json(response.report, private=True, history=True)

    @post(
        "/{report_id:str}/merge",
        summary="Mark as duplicate of parent_id; followers move to the parent",
        status_code=200,
    )
    async def merge(
        self,
        report_id: ReportId,
        data: JSONBody[MergeIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> dict[str, Any]:
        response = await clients.incidents.MergeReport(
            incidents_pb2.MergeReportRequest(report_id=report_id, parent_id=data.parent_id), metadata=caller.metadata()
        )
        return report_json(response.report, private=True, history=True)


class StaffAlertController(Controller):
    path = "/v1/staff/alerts"
    tags = ["staff"]

    @post("/", summary="Publish a city alert for my department")
    async def publish(
        self,
        data: JSONBody[AlertIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        response = await clients.incidents.PublishAlert(
            incidents_pb2.PublishAlertRequest(alert=alert_input(data), idempotency_key=idempotency_key or ""),
            metadata=caller.metadata(),
        )
        return alert_json(response.alert, "en")

    @put("/{alert_id:str}", summary="Replace an alert's content")
    async def update(
        self,
        alert_id: AlertId,
        data: JSONBody[AlertIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> dict[str, Any]:
        response = await clients.incidents.UpdateAlert(
            incidents_pb2.UpdateAlertRequest(alert_id=alert_id, alert=alert_input(data)), metadata=caller.metadata()
        )
        return alert_json(response.alert, "en")

    @delete("/{alert_id:str}", summary="End an alert now", status_code=200)
    async def end(
        self, alert_id: AlertId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> dict[str, Any]:
        response = await clients.incidents.EndAlert(
            incidents_pb2.EndAlertRequest(alert_id=alert_id), metadata=caller.metadata()
        )
        return alert_json(response.alert, "en")


STAFF_ROUTES: list[ControllerRouterHandler] = [StaffIncidentController, StaffAlertController]
